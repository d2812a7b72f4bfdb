"""The form's parameter counts are the networks' own: the torch-free estimate against the
networks the workers build, for grey and colour images, a few class counts and sizes."""
from __future__ import annotations

import pytest

from digitsx.classification import networks, sizing
from digitsx.models import registry


@pytest.mark.parametrize("name", ["lenet", "resnet18", "mobilenet_v3_small", "efficientnet_b0", "googlenet"])
@pytest.mark.parametrize("classes,channels,size", [(3, 3, 256), (10, 1, 28), (37, 1, 64)])
def test_the_estimate_is_the_built_networks_count(name, classes, channels, size):
    if name == "googlenet" and size < 64:
        pytest.skip("GoogLeNet needs larger images")
    model = networks.build(name, classes, channels, size)
    assert sizing.parameters(name, classes, channels, size) == sum(p.numel() for p in model.parameters())


def test_lenet_on_photos_is_the_93_million_the_issue_saw():
    assert sizing.parameters("lenet", 3, 3, 256) == 93_053_573
    assert round(sizing.snapshot_mb(93_053_573)) == 744  # 710 MiB with momentum, as measured


def test_the_suggestion_follows_the_dataset_and_the_cache():
    cached = {"mobilenet_v3_small": {"weights": [{"name": "MobileNet_V3_Small_Weights.IMAGENET1K_V1",
                                                  "trained_on": "ImageNet-1K", "cached": True}]}}
    photos = sizing.fit({"width": 256, "height": 256, "channels": 3}, 3, cached)
    assert photos["suggested"] == "mobilenet_v3_small" and photos["weights"].endswith("IMAGENET1K_V1")
    assert "93,053,573" in photos["why"] and "in this server's cache" in photos["why"]
    uncached = sizing.fit({"width": 256, "height": 256, "channels": 3}, 3, {})
    assert uncached["suggested"] == "mobilenet_v3_small" and uncached["weights"] == "" and "not in" in uncached["why"]
    digits = sizing.fit({"width": 28, "height": 28, "channels": 1}, 10, cached)
    assert digits["suggested"] == "lenet" and digits["parameters"]["lenet"] == 431_080
    assert set(digits["parameters"]) == set(registry.names("classification"))
