"""Building detectors: torchvision's models with nothing downloaded, or a custom ``build``."""
from __future__ import annotations

from typing import Any

import torch

from ..models.registry import get


def torchvision_detector(num_classes: int, in_channels: int, image_size: tuple[int, int],
                         builder: str, native_size: bool = False) -> torch.nn.Module:
    """``torchvision.models.detection.<builder>`` with ``num_classes`` (0 = background) and no
    downloaded weights; ``native_size`` makes its resize keep the dataset's resolution instead
    of scaling the shorter side to 800."""
    from torchvision.models import detection

    kwargs: dict[str, Any] = {}
    if native_size:
        kwargs["min_size"], kwargs["max_size"] = min(image_size), max(image_size)
    return getattr(detection, builder)(weights=None, weights_backbone=None,
                                       num_classes=num_classes, **kwargs)


def published_detector(network: dict, num_classes: int, image_size: tuple[int, int]) -> torch.nn.Module:
    """A torchvision detector from its published COCO weights (box and class predictors
    replaced for ``num_classes``) or its ImageNet backbone (:mod:`digitsx.engine.published`)."""
    from torchvision.models import detection

    from ..engine import published

    kwargs = dict(get("detection", network["name"]).kwargs)
    builder = getattr(detection, kwargs.pop("builder"))
    if kwargs.pop("native_size", False):
        kwargs["min_size"], kwargs["max_size"] = min(image_size), max(image_size)
    return published.build(builder, network, num_classes, kwargs)


def build_custom(source: str, num_classes: int, image_size: tuple[int, int]) -> torch.nn.Module:
    """A custom detector: ``source`` defines ``build(num_classes, image_size)`` returning a module
    with torchvision's detection interface (``model(images, targets)`` → a loss dict in train
    mode, ``model(images)`` → ``[{boxes, labels, scores}]`` in eval mode)."""
    scope: dict[str, Any] = {}
    exec(compile(source, "<custom network>", "exec"), scope)  # noqa: S102 (can_run_code only)
    if not callable(scope.get("build")):
        raise ValueError("the custom network defines no build(num_classes, image_size)")
    model = scope["build"](num_classes, image_size)
    if not isinstance(model, torch.nn.Module):
        raise ValueError("build(num_classes, image_size) did not return a torch.nn.Module")
    return model


def build_network(network: dict, num_classes: int, image_size: tuple[int, int]) -> torch.nn.Module:
    """The spec's network (``{"method": "standard", "name"}`` or ``{"method": "custom",
    "source"}``) for ``num_classes`` classes on images of ``image_size`` (width, height)."""
    if network.get("method") == "custom":
        model = build_custom(network["source"], num_classes, image_size)
    elif network.get("weights") or network.get("weights_backbone"):
        model = published_detector(network, num_classes, image_size)
    else:
        entry = get("detection", network["name"])
        model = entry.load()(num_classes, 3, image_size, **entry.kwargs)
    if network.get("backbone"):
        from ..engine.transfer import load_backbone

        model.digitsx_transfer = load_backbone(model, network["backbone"]["file"])  # type: ignore[attr-defined]
    previous = network.get("previous")
    if previous:  # fine-tuning: every tensor whose name and shape match (a new class list
        state = torch.load(previous["file"], map_location="cpu", weights_only=True)["model"]  # re-inits the heads)
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in state.items() if k in own and own[k].shape == v.shape},
                              strict=False)
    return model
