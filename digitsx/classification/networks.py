"""Classification network factories (listed, torch-free, in :mod:`.catalog`), custom networks
and the layer table. A custom network is Python source defining
``build(num_classes, in_channels, image_size)``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..engine.spec import TrainingSpec
from ..engine import checkpoint
from ..models import registry


def build(name: str, num_classes: int, in_channels: int, image_size: int) -> nn.Module:
    """A fresh classification network from the registry; KeyError names the known ones."""
    return registry.get("classification", name).build(num_classes, in_channels, image_size)


def build_network(spec: TrainingSpec, info) -> nn.Module:
    """The network a training spec asks for, sized for the dataset ``info`` (labels, channels,
    height, width; the crop size if cropping), with its starting weights."""
    net = spec.network
    size = spec.input_size({"width": info.width, "height": info.height})
    classes, channels = len(info.labels), info.channels
    if net["method"] == "custom":
        model = build_custom(net["source"], classes, channels, size)
    elif net["method"] == "pretrained":
        model = build_from(Path(net["dir"]), classes, channels, size)
        model.digitsx_transfer = checkpoint.load_matching(model, Path(net["dir"]) / "model.pt")
    elif net.get("weights"):
        model = build_published(net, classes, channels)
    else:
        model = build(net["name"], classes, channels, size)
    if net.get("previous"):  # continued (any method): the earlier model's weights, fine-tuned
        checkpoint.load_matching(model, Path(net["previous"]["file"]))
    return model


def build_published(net: dict, num_classes: int, in_channels: int) -> nn.Module:
    """A torchvision network started from its published weights (the classifier replaced for
    ``num_classes``, the first convolution for ``in_channels``)."""
    import torchvision

    from ..engine import published

    kwargs = dict(registry.get("classification", net["name"]).kwargs)
    builder = getattr(torchvision.models, kwargs.pop("builder"))
    return published.build(builder, net, num_classes, kwargs, in_channels, adapt_first_conv)


def build_from(folder: Path, num_classes: int | None = None, channels: int | None = None,
               size: int | None = None) -> nn.Module:
    """A pretrained model's network rebuilt from its source (for another class count if given)."""
    info = json.loads((folder / "info.json").read_text())
    labels = (folder / "labels.txt").read_text().splitlines()
    h, w, c = info["image dimensions"]
    crop = (info.get("preprocessing") or {}).get("crop_size")
    return build_custom((folder / "network.py").read_text(), num_classes or len(labels),
                        channels or c, size or crop or min(h, w))


def adapt_first_conv(model: nn.Module, in_channels: int) -> nn.Module:
    """Replace the first convolution so the network takes ``in_channels`` channels."""
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                if child.in_channels != in_channels:
                    setattr(parent, child_name, nn.Conv2d(
                        in_channels, child.out_channels, child.kernel_size, child.stride,
                        child.padding, child.dilation, child.groups, child.bias is not None))
                return model
    raise ValueError("the network has no convolution to adapt")


class LeNet(nn.Module):
    """DIGITS's LeNet: conv 20@5×5, pool, conv 50@5×5, pool, fc 500, ReLU, fc classes."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5), nn.MaxPool2d(2, 2),
            nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2), nn.Flatten())
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
        self.classifier = nn.Sequential(nn.Linear(flat, 500), nn.ReLU(inplace=True),
                                        nn.Linear(500, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def lenet(num_classes: int, in_channels: int, image_size: int) -> nn.Module:
    return LeNet(num_classes, in_channels, image_size)


def torchvision_model(num_classes: int, in_channels: int, image_size: int, builder: str,
                      **kwargs) -> nn.Module:
    """torchvision's ``builder`` with random weights, taking ``in_channels`` channels."""
    import torchvision

    model = getattr(torchvision.models, builder)(weights=None, num_classes=num_classes, **kwargs)
    return adapt_first_conv(model, in_channels)


def build_custom(source: str, num_classes: int, in_channels: int, image_size: int) -> nn.Module:
    """Run user source (workers only) that defines ``build(num_classes, in_channels, image_size)``."""
    namespace: dict = {"__name__": "digitsx_custom_network", "torch": torch, "nn": nn}
    exec(compile(source, "<custom network>", "exec"), namespace)
    if not callable(namespace.get("build")):
        raise ValueError("custom network: define build(num_classes, in_channels, image_size) "
                         "returning a torch.nn.Module")
    model = namespace["build"](num_classes, in_channels, image_size)
    if not isinstance(model, nn.Module):
        raise ValueError(f"custom network: build() returned {type(model).__name__}, not a Module")
    return model


def describe(model: nn.Module, in_channels: int, image_size: int) -> list[dict]:
    """Every leaf layer with its output shape and parameter count (a dry run on zeros)."""
    rows: list[dict] = []
    hooks = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            def hook(mod, _inp, out, name=name):
                shape = list(out.shape[1:]) if isinstance(out, torch.Tensor) else None
                rows.append({"name": name, "type": type(mod).__name__, "output": shape,
                             "parameters": sum(p.numel() for p in mod.parameters(recurse=False))})
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    device = next(model.parameters(), torch.zeros(())).device
    with torch.no_grad():
        model(torch.zeros(1, in_channels, image_size, image_size, device=device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return rows
