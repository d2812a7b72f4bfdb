"""Building segmenters: torchvision's (their ``{"out": logits}`` unwrapped), a small U-Net, or a
custom ``build(num_classes, in_channels)``. Every network maps (N, C, H, W) → (N, classes, H, W)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.registry import get


class Unwrap(nn.Module):
    """torchvision's segmenters answer ``{"out": ..., "aux": ...}``; the engine wants logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def torchvision_segmenter(num_classes: int, in_channels: int, image_size: Any, builder: str) -> nn.Module:
    from torchvision.models import segmentation

    return Unwrap(getattr(segmentation, builder)(weights=None, weights_backbone=None,
                                                 num_classes=num_classes))


def published_segmenter(network: dict, num_classes: int) -> nn.Module:
    """A torchvision segmenter from its published weights (the last convolution replaced for
    ``num_classes``) or its ImageNet backbone (:mod:`digitsx.engine.published`)."""
    from torchvision.models import segmentation

    from ..engine import published

    kwargs = dict(get("segmentation", network["name"]).kwargs)
    inner = published.build(getattr(segmentation, kwargs.pop("builder")), network, num_classes, kwargs)
    model = Unwrap(inner)
    transfer = inner.digitsx_transfer  # type: ignore[attr-defined]
    model.digitsx_transfer = {**transfer, "loaded": [f"model.{n}" for n in transfer["loaded"]],  # type: ignore[attr-defined]
                              "fresh": [f"model.{n}" for n in transfer["fresh"]]}
    return model


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Ronneberger et al.'s U-Net, small: 4 levels of 16, 32, 64, 128 channels; any input size
    (padded to a multiple of 8 inside, cropped back)."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        w = [width * 2 ** i for i in range(4)]
        self.down = nn.ModuleList([_block(in_channels, w[0]), _block(w[0], w[1]), _block(w[1], w[2])])
        self.bottom = _block(w[2], w[3])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in (2, 1, 0)])
        self.merge = nn.ModuleList([_block(w[i] * 2, w[i]) for i in (2, 1, 0)])
        self.head = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 8, (-w) % 8
        if ph or pw:
            x = nn.functional.pad(x, (0, pw, 0, ph))
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat([up(x), skip], 1))
        return self.head(x)[..., :h, :w]


def unet(num_classes: int, in_channels: int, image_size: Any) -> nn.Module:
    return UNet(num_classes, in_channels)


def build_network(network: dict, num_classes: int, in_channels: int) -> nn.Module:
    """The spec's network: standard (by name), custom (``build(num_classes, in_channels)``),
    continued from a previous snapshot (matching tensors)."""
    if network.get("method") == "custom":
        scope: dict[str, Any] = {}
        exec(compile(network["source"], "<custom network>", "exec"), scope)  # noqa: S102 (can_run_code only)
        if not callable(scope.get("build")):
            raise ValueError("the custom network defines no build(num_classes, in_channels)")
        model = scope["build"](num_classes, in_channels)
        if not isinstance(model, nn.Module):
            raise ValueError("build(num_classes, in_channels) did not return a torch.nn.Module")
    elif network.get("weights") or network.get("weights_backbone"):
        model = published_segmenter(network, num_classes)
    else:
        entry = get("segmentation", network["name"])
        channels = in_channels if in_channels in entry.channels else 3
        model = entry.load()(num_classes, channels, None, **entry.kwargs)
    if network.get("backbone"):
        from ..engine.transfer import load_backbone

        if not isinstance(model, Unwrap):
            raise ValueError(f"{network.get('name')} has no pretrainable backbone; pick one of "
                             f"torchvision's segmenters")
        model.digitsx_transfer = load_backbone(model, network["backbone"]["file"], "model.backbone.")  # type: ignore[attr-defined]
    previous = network.get("previous")
    if previous:
        state = torch.load(previous["file"], map_location="cpu", weights_only=True)["model"]
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in state.items() if k in own and own[k].shape == v.shape},
                              strict=False)
    return model


def input_channels(network: dict, channels: int) -> int:
    """What the network takes: the data's channels where it can, else 3 (grey repeated)."""
    if network.get("method") == "custom":
        return channels
    return channels if channels in get("segmentation", network["name"]).channels else 3
