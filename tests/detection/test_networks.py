"""Detector construction: nothing downloads, and a backbone starts from classification weights."""
from __future__ import annotations

import pytest
import torch
import torchvision

from digitsx.detection.networks import build_network
from digitsx.engine.transfer import load_backbone
from digitsx.models import registry


def test_every_registered_detector_builds_offline_for_the_class_count():
    names = registry.names("detection")
    assert names[0] == "ssdlite320_mobilenet_v3_large" and len(names) == 5
    model = build_network({"method": "standard", "name": "fasterrcnn_mobilenet_v3_large_fpn"}, 4, (200, 100))
    assert model.transform.min_size == (100,) and model.transform.max_size == 200  # the data's size
    assert model.roi_heads.box_predictor.cls_score.out_features == 4


@pytest.mark.parametrize("name", ["ssdlite320_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn"])
def test_a_mobilenet_classifier_starts_the_backbone(tmp_path, name):
    classifier = torchvision.models.mobilenet_v3_large(weights=None, num_classes=10)
    torch.save({"model": classifier.state_dict(), "epoch": 3}, tmp_path / "snapshot_epoch_3.pt")
    model = build_network({"method": "standard", "name": name,
                           "backbone": {"file": str(tmp_path / "snapshot_epoch_3.pt")}}, 4, (128, 128))
    transfer = model.digitsx_transfer
    assert len(transfer["loaded"]) > 200 and transfer["fresh"]
    first = transfer["loaded"][0]
    assert torch.equal(model.state_dict()[first], classifier.state_dict()["features.0.0.weight"])


def test_a_backbone_of_another_family_is_refused_with_a_reason(tmp_path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="same family"):
        load_backbone(build_network({"method": "standard", "name": "ssdlite320_mobilenet_v3_large"}, 3,
                                    (64, 64)), str(tmp_path / "model.pt"))
