"""The quality bar: LeNet with DIGITS's defaults on the 5,000 real MNIST digits ≥ 96 %."""
from __future__ import annotations

import pytest

from digitsx.classification.demo import write_mnist_folder
from tests.conftest import api_session, built_dataset, wait_for

pytestmark = pytest.mark.server


def test_lenet_digits_defaults_reach_96_percent(server_factory, tmp_path):
    data = tmp_path / "data"
    write_mnist_folder(data / "mnist")
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    s = api_session(server)
    ds = {"id": built_dataset(s, server, data / "mnist")}  # folder_pct_val defaults to 25
    # Only what differs from the form's defaults: DIGITS's defaults are SGD, 0.01, step, 30.
    model = s.post(server.url + "/models/images/classification.json", data={
        "model_name": "lenet", "dataset": ds["id"], "standard_networks": "lenet",
        "random_seed": 1}).json()
    spec = s.get(f"{server.url}/models/{model['id']}.json").json()["spec"]
    assert (spec["solver"]["type"], spec["solver"]["learning_rate"], spec["lr"]["policy"],
            spec["train_epochs"]) == ("SGD", 0.01, "step", 30)
    wait_for(lambda: s.get(f"{server.url}/models/{model['id']}/status").json()["status"]
             in ("Done", "Error"), 400, 1, "30 epochs of LeNet")
    val = [p for p in s.get(f"{server.url}/models/{model['id']}/metrics.json").json()["metrics"]
           if p["phase"] == "val"]
    assert val[-1]["epoch"] == 30 and val[-1]["values"]["accuracy"] >= 96.0, val[-1]
