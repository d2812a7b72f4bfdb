"""Warm serving and the scheduler: a warm worker holds a GPU slot, and gives it back as soon as
a job waits for that GPU (training comes first; serving falls back to the CPU)."""
from __future__ import annotations

import pytest

from tests.conftest import api_session, built_dataset, wait_for
from tests.models.test_training_api import train, wait_status

pytestmark = pytest.mark.server


def test_a_warm_worker_yields_its_gpu_to_a_queued_job(server_factory, data_root, mnist_tree):
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root), DIGITSX_FAKE_GPUS="1",
                            DIGITSX_SERVING_IDLE_SECONDS="600")
    server.session = s = api_session(server)
    dataset = built_dataset(s, server, mnist_tree)
    first = train(server, dataset, train_epochs=1)
    assert wait_status(server, first["id"])["status"] == "Done"
    sample = str(next((mnist_tree / "two").glob("*.png")))
    url = server.url + "/models/images/classification/classify_one.json"
    assert s.post(url, data={"job_id": first["id"], "image_path": sample}).ok
    gpu = s.get(server.url + "/gpus.json").json()
    assert gpu["gpus_available"] == 0  # the warm worker holds the only GPU
    second = train(server, dataset, train_epochs=1)
    # Not after the 600 s idle timeout: the worker yields at once and the job starts.
    wait_for(lambda: s.get(f"{server.url}/models/{second['id']}/status").json()["status"]
             in ("Running", "Done"), 30, 0.2, "the second model to start")
    during = s.post(url, data={"job_id": first["id"], "image_path": sample})
    assert during.ok and len(during.json()["predictions"]) == 5  # served meanwhile, on the CPU
    assert wait_status(server, second["id"])["status"] == "Done"
