"""Every registered network builds and trains a step for 1- and 3-channel input at its size."""
import pytest
import torch

from digitsx.models import registry
from digitsx.classification.networks import build, build_custom, describe

REGISTRY = registry.networks("classification")


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("channels", [1, 3])
def test_builds_and_trains_one_step(name, channels):
    torch.manual_seed(0)
    size = REGISTRY[name].intended_size
    model = build(name, 7, channels, size)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(2, channels, size, size), torch.tensor([1, 5])
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert model(x).shape == (2, 7)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    if channels == 3:  # the form's table says how big it is (10 classes, 3 channels)
        ten = sum(p.numel() for p in build(name, 10, 3, size).parameters())
        assert REGISTRY[name].parameters == ten


def test_lenet_adapts_to_other_sizes():
    assert build("lenet", 3, 3, 64)(torch.zeros(1, 3, 64, 64)).shape == (1, 3)


def test_custom_network_and_describe():
    source = """
def build(num_classes, in_channels, image_size):
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * (image_size - 2) ** 2, num_classes))
"""
    model = build_custom(source, 5, 1, 10)
    rows = describe(model, 1, 10)
    assert [r["type"] for r in rows] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    assert rows[0]["output"] == [4, 8, 8] and rows[0]["parameters"] == 4 * 9 + 4
    assert rows[-1]["output"] == [5]
    with pytest.raises(ValueError, match="define build"):
        build_custom("x = 1", 5, 1, 10)


def test_the_form_offers_exactly_the_registry_and_the_web_side_needs_no_torch():
    import subprocess
    import sys

    code = ("import sys; from digitsx.classification import forms; from digitsx.models import registry; "
            "print(','.join(forms.MODEL_FORM.fields['standard_networks'].options)); "
            "print(','.join(registry.names('classification'))); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == out[1] and "lenet" in out[0].split(",") and out[2] == "False"
    assert registry.get("classification", "resnet18").to_dict()["intended_size"] == 224
    with pytest.raises(KeyError, match="known: lenet"):
        registry.get("classification", "nope")


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_the_detection_and_segmentation_tables_give_true_sizes(task):
    """The model forms' network tables show each network's size with 10 classes."""
    import importlib

    importlib.import_module(f"digitsx.{task}")  # declares where its catalog is
    assert len(registry.networks(task)) == 5
    for name, entry in registry.networks(task).items():
        size = (entry.intended_size, entry.intended_size) if task == "detection" else None
        model = entry.load()(10, 3, size, **entry.kwargs)
        assert entry.parameters == sum(p.numel() for p in model.parameters()), name
