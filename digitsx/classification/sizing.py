"""How big each classification network becomes for a dataset (its classes, channels and image
size), torch-free, and which network suits it: what the new-model form shows before Create.

LeNet's fully connected layer grows with the image (28×28 grey: 431,080 parameters; 256×256
colour: 93 million); the torchvision networks pool adaptively, so only their first convolution
(the channels) and their head (the classes) change. ``tests/models/test_sizing.py`` checks the
numbers against the networks torch builds.
"""
from __future__ import annotations

from typing import Any

from ..models import registry

# network: (features into the classifier head, first-convolution weights per input channel)
HEADS = {"alexnet": (4096, 64 * 11 * 11), "googlenet": (1024, 64 * 7 * 7), "resnet18": (512, 64 * 7 * 7),
         "resnet50": (2048, 64 * 7 * 7), "mobilenet_v3_small": (1024, 16 * 3 * 3),
         "mobilenet_v3_large": (1280, 16 * 3 * 3), "efficientnet_b0": (1280, 32 * 3 * 3)}
# Small networks with ImageNet weights, best first: what photos should start from.
SMALL_PRETRAINED = ("mobilenet_v3_small", "resnet18", "efficientnet_b0", "mobilenet_v3_large")
PHOTO_PARAMETERS = 5_000_000  # LeNet past this: the images are photos, not digits


def parameters(name: str, classes: int, channels: int, size: int) -> int | None:
    """The network's parameter count for ``classes`` classes of ``channels``-channel images of
    ``size``×``size`` (None: not known here, e.g. a network a plugin added)."""
    classes, channels, size = max(1, int(classes)), int(channels), int(size)
    if name == "lenet":
        side = ((size - 4) // 2 - 4) // 2
        if side < 1:
            return None  # too small for LeNet's two 5×5 convolutions
        flat = 50 * side * side
        return channels * 20 * 25 + 20 + 20 * 50 * 25 + 50 + flat * 500 + 500 + 500 * classes + classes
    if name not in HEADS:
        return None
    try:
        base = registry.get("classification", name).parameters
    except Exception:  # noqa: BLE001 - not registered
        return None
    head, stem = HEADS[name]
    return base + (classes - 10) * (head + 1) + (channels - 3) * stem


def snapshot_mb(params: int, solver: str = "SGD") -> float:
    """A snapshot's size in MB: the weights, and the optimizer's state per weight (momentum:
    one more copy; Adam's two moments: two)."""
    copies = {"SGD": 2, "NESTEROV": 2, "RMSPROP": 2, "ADAGRAD": 2, "ADADELTA": 3, "ADAM": 3, "ADAMW": 3}
    return params * 4 * copies.get(str(solver).upper(), 2) / 1e6


def fit(image: dict[str, Any], classes: int, weights_choices: dict[str, dict]) -> dict[str, Any]:
    """For a dataset (``image``: width, height, channels; its class count): each network's
    parameters and snapshot MB, the suggested network (and published weights, when a small
    ImageNet network's are in the cache) and why, in words."""
    width, height = int(image.get("width") or 0), int(image.get("height") or 0)
    channels = int(image.get("channels") or 3)
    size = min(width, height) or 224
    counts = {name: parameters(name, classes, channels, size) for name in registry.names("classification")}
    lenet = counts.get("lenet")
    photos = lenet is None or lenet > PHOTO_PARAMETERS or size >= 96
    out: dict[str, Any] = {"size": size, "channels": channels, "classes": classes, "parameters": counts,
                           "snapshot_mb": {n: round(snapshot_mb(c), 1) for n, c in counts.items() if c}}
    colour = "colour" if channels == 3 else "grey"
    if not photos:
        out.update(suggested="lenet", weights="",
                   why=f"{width}×{height} {colour} images: LeNet suits them ({lenet:,} parameters).")
        return out
    for name in SMALL_PRETRAINED:
        cached = [w for w in (weights_choices.get(name) or {}).get("weights", [])
                  if w.get("cached") and str(w.get("trained_on", "")).startswith("ImageNet")]
        if cached and counts.get(name):
            out.update(suggested=name, weights=cached[0]["name"],
                       why=f"{width}×{height} {colour} photos: {registry.get('classification', name).title} "
                           f"({counts[name]:,} parameters) starting from its ImageNet weights, which are in "
                           f"this server's cache: a few hundred photos are enough to fine-tune it.")
            break
    else:
        name = SMALL_PRETRAINED[0]
        out.update(suggested=name, weights="",
                   why=f"{width}×{height} {colour} photos: {registry.get('classification', name).title} "
                       f"({counts[name]:,} parameters). Its ImageNet weights would learn faster from few "
                       f"photos but are not in this server's cache (System → Published weights).")
    if lenet:
        out["why"] += (f" LeNet, made for 28×28 digits, would be {lenet:,} parameters here "
                       f"(≈ {snapshot_mb(lenet):,.0f} MB a snapshot).")
    return out
