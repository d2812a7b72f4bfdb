"""Real aerial photos (the deepforest wheel's NEON tree crowns, tiled) through the server, and a
custom detector (Python ``build(num_classes, image_size)``) with its errors."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.detection.conftest import build, train

pytestmark = pytest.mark.server


def test_deepforest_trees_end_to_end(server, data_root):
    dest = data_root / "trees"
    done = subprocess.run([sys.executable, "-m", "digitsx.cli", "demo-data", "--detection", str(dest)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "36 training and 9 validation tiles" in done.stdout
    job = build(server, {"dataset_name": "trees", "label_format": "voc",
                         "train_image_folder": str(dest / "images" / "train"),
                         "train_label_folder": str(dest / "voc" / "train"),
                         "val_image_folder": str(dest / "images" / "val"),
                         "val_label_folder": str(dest / "voc" / "val"),
                         # the form's padding default (none) works for the 400×400 tiles
                         "resize_image_width": "320", "resize_image_height": "320",
                         "dsopts_feature_encoding": "jpg"})
    assert job["status"] == "Done", job
    d = job["detection"]
    assert d["labels"] == ["dontcare", "Alive", "Dead", "Tree"]
    assert d["image"]["width"] == 320 and d["image"]["encoding"] == "jpg"
    assert d["splits"]["train"]["entries"] == 36 and d["splits"]["train"]["boxes"] > 500
    assert sum(d["splits"]["val"]["counts"][1:]) > 0
    # val_min_box_size 25 (DIGITS's default) makes the smallest crowns don't care
    assert 0 < d["splits"]["val"]["dont_care"] < d["splits"]["val"]["boxes"]
    model = train(server, job["id"], train_epochs="1", batch_size="12")
    assert model["status"] == "Done", model
    assert 0 <= model["model"]["validation"]["map_50"] <= 1
    tile = next((dest / "images" / "val").glob("*.png"))
    answer = server.session.post(server.url + "/models/images/generic/infer_one.json",
                                 data={"job_id": model["id"], "image_path": str(tile)}).json()
    assert all(0 <= r[0] <= r[2] <= 400 and 0 <= r[1] <= r[3] <= 400 for r in answer["outputs"]["bbox-list"])


CUSTOM = """
import torchvision

def build(num_classes, image_size):
    return torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=num_classes)
"""


def test_a_custom_detector_trains_and_a_broken_one_fails_with_its_error(server, shapes):
    from tests.detection.conftest import shapes_fields

    dataset = build(server, shapes_fields(shapes, "yolo"))
    model = train(server, dataset["id"], method="custom", custom_network=CUSTOM)
    assert model["status"] == "Done", model
    assert model["model"]["network"] == "custom"
    broken = train(server, dataset["id"], method="custom",
                   custom_network="def build(num_classes, image_size):\n    return 42\n")
    assert broken["status"] == "Error"
    assert "did not return a torch.nn.Module" in broken["error"]
    res = server.session.post(server.url + "/models/images/generic.json",
                              data={"dataset": dataset["id"], "model_name": "x", "method": "custom",
                                    "custom_network": "print('no build here')"})
    assert res.status_code == 400 and "custom_network" in res.json()["errors"]
    wrong = server.session.post(server.url + "/models/images/generic.json",
                                data={"dataset": dataset["id"], "model_name": "x", "method": "backbone",
                                      "backbone_job": dataset["id"]})
    assert wrong.status_code == 400
    assert "not an image classification model" in wrong.json()["errors"]["backbone_job"][0]


def test_custom_code_needs_the_permission_also_when_continued(server_factory, data_root, shapes):
    from tests.conftest import PASSWORD_MODE, token_session
    from tests.detection.conftest import shapes_fields

    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root), **PASSWORD_MODE)
    server.session = token_session(server, "alice", can_run_code=True)
    dataset = build(server, shapes_fields(shapes, "voc"))
    custom = train(server, dataset["id"], method="custom", custom_network=CUSTOM)
    assert custom["status"] == "Done", custom
    bob = token_session(server, "bob", can_run_code=False)
    url = server.url + "/models/images/generic.json"
    fields = {"dataset": dataset["id"], "model_name": "bob's"}
    denied = bob.post(url, data={**fields, "method": "custom", "custom_network": CUSTOM})
    assert denied.status_code == 403 and "may not run code" in denied.text
    continued = bob.post(url, data={**fields, "method": "previous", "previous_networks": custom["id"]})
    assert continued.status_code == 403 and "Continuing a custom network" in continued.text
