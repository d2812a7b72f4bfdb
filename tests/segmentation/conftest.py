"""Segmentation fixtures: generated shapes with palette and colour-map labels in a data root."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import api_session
from tests.datasets.conftest import data_root  # noqa: F401 (the fixture, shared)
from tests.detection.conftest import wait_done


@pytest.fixture
def shapes(data_root) -> Path:  # noqa: F811
    from digitsx.segmentation.shapes import write_shapes

    return write_shapes(data_root / "seg", train=24, val=8, width=96, height=96)


@pytest.fixture
def server(server_factory, data_root):  # noqa: F811
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root), DIGITSX_MAX_CONTENT_LENGTH="5000000")
    server.session = api_session(server)
    return server


def fields(shapes: Path, method: str = "label", **extra) -> dict:
    """The dataset form for one label encoding of the generated shapes."""
    labels = {"label": shapes / "palette" / "{}", "textfile": shapes / "rgb" / "{}",
              "cvat": shapes / "cvat" / "{}" / "SegmentationClass", "coco": shapes / "coco" / "{}.json"}[method]
    out = {"dataset_name": f"seg {method}", "feature_folder": str(shapes / "images" / "train"),
           "label_folder": str(labels).format("train"),
           "has_val_folder": "y", "validation_feature_folder": str(shapes / "images" / "val"),
           "validation_label_folder": str(labels).format("val"), "colormap_method": method}
    if method in ("label", "textfile"):
        out["class_labels_file"] = str(shapes / "classes.txt")
    if method == "textfile":
        out["colormap_text_file"] = str(shapes / "colormap.txt")
    out.update(extra)
    return out


def build(server, data: dict) -> dict:
    res = server.session.post(server.url + "/datasets/generic/create/image-segmentation.json", data=data)
    assert res.ok, res.text
    return wait_done(server, res.json()["id"])


def train(server, dataset_id: str, **extra) -> dict:
    data = {"dataset": dataset_id, "model_name": "seg", "train_epochs": "1", "batch_size": "8",
            "random_seed": "1", **extra}
    res = server.session.post(server.url + "/models/images/generic.json", data=data)
    assert res.ok, res.text
    return wait_done(server, res.json()["id"], 400, "/models")
