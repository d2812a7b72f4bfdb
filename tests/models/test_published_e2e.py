"""Published weights through a real server: a classification job fine-tunes from weights a
loopback mirror serves (downloaded as a step of the job, checked, the loaded layers frozen for
one epoch and then trained), a mismatched file under torchvision's name is refused and
deleted, and the forms' 400s. Nothing reaches a hub."""
from __future__ import annotations

import pytest
import torch

from digitsx.models import published
from tests.conftest import wait_for

from .weights_server import Mirror, publish, state_dict_file

pytestmark = pytest.mark.server

SMALL = "MobileNet_V3_Small_Weights.IMAGENET1K_V1"


@pytest.fixture
def weights_server(server_factory, data_root, tmp_path):
    import torchvision

    served = tmp_path / "served"
    served.mkdir()
    small = published.weights()[SMALL]
    path = state_dict_file(torchvision.models.mobilenet_v3_small, served, small["file"])
    resnet = published.weights()["ResNet18_Weights.IMAGENET1K_V1"]
    (served / resnet["file"]).write_bytes(b"a truncated download" * 500)  # its hash is not f37072fd
    catalog = publish({SMALL: path}, tmp_path / "catalog.json")
    mirror = Mirror(served)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root), DIGITSX_WEIGHTS_CATALOG=str(catalog),
                            DIGITSX_WEIGHTS_MIRROR=mirror.url, DIGITSX_WEIGHTS_DIR=str(tmp_path / "weights"))
    import requests

    s = requests.Session()
    s.headers["Accept"] = "application/json"
    assert s.post(server.url + "/login", data={"username": "alice"}).ok
    server.session, server.mirror, server.served = s, mirror, path
    yield server
    mirror.close()


def finished(server, job_id: str, timeout: float = 240) -> dict:
    s = server.session
    wait_for(lambda: s.get(f"{server.url}/models/{job_id}/status").json()["status"] in ("Done", "Error"),
             timeout, 0.3, f"model {job_id}")
    return s.get(f"{server.url}/jobs/{job_id}.json").json()


def test_fine_tune_from_published_weights(weights_server, mnist_tree, tmp_path):
    server, s = weights_server, weights_server.session
    ds = s.post(server.url + "/datasets/images/classification.json", data={
        "dataset_name": "mnist", "folder_train": str(mnist_tree), "resize_channels": 1,
        "resize_width": 32, "resize_height": 32, "folder_pct_val": 25}).json()["id"]
    wait_for(lambda: s.get(f"{server.url}/datasets/{ds}/status").json()["status"] == "Done", 60, 0.2, "dataset")
    page = s.get(server.url + "/models/images/classification/new", headers={"Accept": "text/html"}).text
    assert SMALL in page and "weights-choices" in page
    res = s.post(server.url + "/models/images/classification.json", data={
        "model_name": "tuned", "dataset": ds, "standard_networks": "mobilenet_v3_small",
        "weights": "DEFAULT", "freeze_backbone_epochs": 1, "backbone_lr_mult": 0.5,
        "train_epochs": 2, "batch_size": 32, "learning_rate": 0.01, "random_seed": 1})
    assert res.ok, res.text
    job = finished(server, res.json()["id"])
    assert job["status"] == "Done", job.get("error")
    log = (server.jobs_dir / job["id"] / "log.txt").read_text()
    assert f"downloading {server.served.name}" in log and "checked" in log, log
    assert "loaded layers frozen" in log and "now train" in log, log
    assert server.mirror.hits[server.served.name] == 1
    assert {"relation": "Pretrained from", "name": f"torchvision {SMALL}"}.items() <= job["lineage"][0].items()
    transfer = job["result"]["transfer"]
    assert transfer["pretrained"] == SMALL and transfer["lr_mult"] == 0.5 and transfer["freeze_backbone_epochs"] == 1
    # Frozen for the first epoch, trained in the second; the new head learned from the start.
    folder = server.jobs_dir / job["id"]
    served = torch.load(server.served, weights_only=True)
    first = torch.load(folder / "snapshot_epoch_1.pt", weights_only=True)["model"]
    second = torch.load(folder / "snapshot_epoch_2.pt", weights_only=True)["model"]
    name = "features.1.block.0.0.weight"
    assert torch.equal(first[name], served[name])
    assert not torch.equal(second[name], served[name])
    assert first["classifier.3.weight"].shape == (10, 1024)
    assert not torch.equal(first["classifier.3.weight"], second["classifier.3.weight"])
    cache = s.get(server.url + "/weights.json").json()
    mine = [f for f in cache["files"] if f["file"] == server.served.name][0]
    assert mine["verified"] and mine["weights"] == [SMALL] and mine["source"].startswith(server.mirror.url)
    system = s.get(server.url + "/system", headers={"Accept": "text/html"}).text
    assert server.served.name in system and "resnet18-f37072fd.pth" in system  # present; missing


def test_mismatched_file_is_refused_deleted_and_named(weights_server, mnist_tree):
    server, s = weights_server, weights_server.session
    ds = s.post(server.url + "/datasets/images/classification.json", data={
        "dataset_name": "mnist", "folder_train": str(mnist_tree), "resize_channels": 1,
        "resize_width": 28, "resize_height": 28}).json()["id"]
    wait_for(lambda: s.get(f"{server.url}/datasets/{ds}/status").json()["status"] == "Done", 60, 0.2, "dataset")
    res = s.post(server.url + "/models/images/classification.json", data={
        "model_name": "bad", "dataset": ds, "standard_networks": "resnet18",
        "weights": "ResNet18_Weights.IMAGENET1K_V1", "train_epochs": 1})
    assert res.ok, res.text
    job = finished(server, res.json()["id"])
    assert job["status"] == "Error"
    assert "resnet18-f37072fd.pth" in job["error"] and "does not match the published f37072fd" in job["error"]
    cache = server.jobs_dir.parent / "weights" / "checkpoints"
    assert [f.name for f in cache.iterdir() if f.is_file()] == []
    for fields, field, text in (
            ({"standard_networks": "lenet", "weights": "DEFAULT"}, "weights", "no published weights"),
            ({"standard_networks": "resnet18", "weights": "ResNet50_Weights.IMAGENET1K_V2"}, "weights",
             "ResNet18_Weights.IMAGENET1K_V1"),
            ({"standard_networks": "resnet18", "weights": "DEFAULT", "method": "custom",
              "custom_network": "def build(a, b, c): pass"}, "weights", "standard network"),
            ({"standard_networks": "resnet18", "backbone_lr_mult": "20"}, "backbone_lr_mult", "")):
        res = s.post(server.url + "/models/images/classification.json",
                     data={"model_name": "x", "dataset": ds, **fields})
        assert res.status_code in (400, 403), res.text
        if res.status_code == 400:
            assert text in " ".join(res.json()["errors"][field]), res.json()
