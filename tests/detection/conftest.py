"""Detection fixtures: generated shapes in every label format inside a data root, a server."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import api_session, wait_for
from tests.datasets.conftest import data_root  # noqa: F401 (the fixture, shared)


@pytest.fixture
def shapes(data_root) -> Path:
    from digitsx.detection.shapes import write_shapes

    return write_shapes(data_root / "shapes", train=24, val=8, width=128, height=128, sizes=(28, 56))


@pytest.fixture
def server(server_factory, data_root):
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root), DIGITSX_MAX_CONTENT_LENGTH="5000000")
    server.session = api_session(server)
    return server


def wait_done(server, job_id: str, timeout: float = 240, prefix: str = "/datasets") -> dict:
    s: requests.Session = server.session
    wait_for(lambda: s.get(f"{server.url}{prefix}/{job_id}/status").json()["status"]
             in ("Done", "Error", "Aborted"), timeout, 0.3, f"job {job_id}")
    return s.get(f"{server.url}{prefix}/{job_id}.json").json()


def shapes_fields(shapes: Path, fmt: str, **extra) -> dict:
    """The dataset form for one label format of the generated shapes."""
    labels = {"kitti": "kitti", "voc": "voc", "yolo": "yolo"}
    fields = {"dataset_name": f"shapes {fmt}", "label_format": fmt,
              "train_image_folder": str(shapes / "images" / "train"),
              "val_image_folder": str(shapes / "images" / "val"),
              "padding_image_width": "", "padding_image_height": "", "val_min_box_size": "0"}
    if fmt == "coco":
        fields.update(train_label_file=str(shapes / "coco" / "train.json"),
                      val_label_file=str(shapes / "coco" / "val.json"))
    else:
        fields.update(train_label_folder=str(shapes / labels[fmt] / "train"),
                      val_label_folder=str(shapes / labels[fmt] / "val"))
    if fmt == "kitti":
        fields["custom_classes"] = "dontcare,circle,square,triangle"
    fields.update(extra)
    return fields


def build(server, fields: dict) -> dict:
    res = server.session.post(server.url + "/datasets/generic/create/image-object-detection.json", data=fields)
    assert res.ok, res.text
    return wait_done(server, res.json()["id"])


def train(server, dataset_id: str, **extra) -> dict:
    fields = {"dataset": dataset_id, "model_name": "boxes", "train_epochs": "1", "batch_size": "8",
              "random_seed": "1", **extra}
    res = server.session.post(server.url + "/models/images/generic.json", data=fields)
    assert res.ok, res.text
    return wait_done(server, res.json()["id"], 400, "/models")
