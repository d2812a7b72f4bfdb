"""Segmenter construction: nothing downloads, every network maps images to per-pixel logits, and
a torchvision segmenter's backbone starts from classification weights."""
from __future__ import annotations

import pytest
import torch
import torchvision

from digitsx.models import registry
from digitsx.segmentation.networks import build_network


@pytest.mark.parametrize("name", ["lraspp_mobilenet_v3_large", "unet", "deeplabv3_mobilenet_v3_large"])
def test_every_light_network_gives_per_pixel_logits(name):
    model = build_network({"method": "standard", "name": name}, 5, 3).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 60, 84))
    assert out.shape == (2, 5, 60, 84)
    assert registry.names("segmentation")[0] == "lraspp_mobilenet_v3_large"


def test_unet_takes_grayscale():
    assert build_network({"method": "standard", "name": "unet"}, 3, 1)(torch.rand(1, 1, 32, 32)).shape == (1, 3, 32, 32)


def test_a_classifier_starts_the_backbone_and_unet_has_none(tmp_path):
    classifier = torchvision.models.mobilenet_v3_large(weights=None, num_classes=10)
    torch.save({"model": classifier.state_dict()}, tmp_path / "snapshot_epoch_1.pt")
    backbone = {"file": str(tmp_path / "snapshot_epoch_1.pt")}
    model = build_network({"method": "standard", "name": "lraspp_mobilenet_v3_large", "backbone": backbone}, 4, 3)
    first = model.digitsx_transfer["loaded"][0]
    assert len(model.digitsx_transfer["loaded"]) > 200
    assert torch.equal(model.state_dict()[first], classifier.state_dict()["features.0.0.weight"])
    with pytest.raises(ValueError, match="no pretrainable backbone"):
        build_network({"method": "standard", "name": "unet", "backbone": backbone}, 4, 3)
