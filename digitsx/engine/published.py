"""Workers: torchvision networks started from published weights, as torchvision's fine-tuning
guide does it, for every task.

The file comes from the shared cache (:mod:`.weights_cache`: downloaded once, SHA-256
checked, progress on the job page); torchvision's own builder then makes the network (its
settings for a pretrained start included: frozen batch norm and the trainable layers of its
detection backbones). Its weights never go through ``torch.hub.load_state_dict_from_url``,
which unpickles with the full pickler: while the builder runs, torchvision's
``WeightsEnum.get_state_dict`` hands it the state dict :func:`load_state` read from the
cache's bytes, checked against the pinned digest right before, with
``torch.load(weights_only=True)`` (tensors only: a file that holds Python objects is refused,
and nothing in it runs). Any other file the builder asks for is refused, never fetched. For
the whole network (``weights``), every layer whose shape depends on the class count (the
classifier, a detector's box and class predictors, a segmenter's last convolution) is replaced
by a fresh one for the dataset's classes; for ``weights_backbone`` torchvision loads the
backbone and the rest starts fresh. ``model.digitsx_transfer`` says which tensors were loaded.
"""
from __future__ import annotations

import io
import pickle
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import nn

from . import weights_cache

# Keyword arguments torchvision sets itself when it loads weights (passing them differently
# is an error): the fresh build uses ours, the pretrained one torchvision's.
OWN_WHEN_PRETRAINED = ("aux_logits", "init_weights", "num_classes", "transform_input")


def fetch(entry: dict, out: Any = None) -> None:
    """Make sure ``entry``'s file is in the cache, checked; the download is a step of the job,
    with its progress and speed in the log (every 10 %)."""
    shown = [-1]

    def progress(done: int, total: int, speed: float) -> None:
        tenth = int(10 * done / total) if total else -1
        if out is not None and tenth != shown[0]:
            shown[0] = tenth
            size = f" of {total / 1e6:.1f} MB" if total else ""
            out.log(f"downloading {entry['file']}: {done / 1e6:.1f} MB{size} at {speed / 1e6:.1f} MB/s")

    path, downloaded = weights_cache.fetch(entry, entry["cache"], entry.get("mirror") or None, progress)
    if out is not None:
        out.log(f"weights {entry['name']}: {path.name} {'downloaded and ' if downloaded else ''}"
                f"checked (SHA-256 {entry['sha256_prefix']}…) in {path.parent}")


def load_state(entry: dict) -> dict:
    """``entry``'s state dict from the cache: the bytes checked against the pinned (or recorded)
    SHA-256 and the published prefix, then read with ``weights_only=True``."""
    data = weights_cache.verified_bytes(entry, entry["cache"])
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise weights_cache.WeightsError(
            f"{entry['file']} is not a plain weights file: it holds Python objects that would run "
            f"code when loaded ({' '.join(str(err).split())[:200]}); refused") from None
    except (RuntimeError, EOFError, ValueError) as err:
        raise weights_cache.WeightsError(f"{entry['file']} is not a weights file torch can read: "
                                         f"{' '.join(str(err).split())[:200]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise weights_cache.WeightsError(f"{entry['file']} is not a state dict (names to tensors)")
    return state


@contextmanager
def weights_from_cache(entry: dict) -> Iterator[None]:
    """While a torchvision builder runs, every weights enum it loads (its own weights, or the
    backbone's) reads ``entry`` through :func:`load_state`; any other file is refused (nothing is
    downloaded or unpickled). One builder at a time (a worker builds one network)."""
    from torchvision.models import _api

    def get_state_dict(weights, *args: Any, **kwargs: Any) -> dict:
        file = str(weights.url).rsplit("/", 1)[-1]
        if file != entry["file"]:
            raise weights_cache.WeightsError(f"the network asked for {file}, not the chosen "
                                             f"{entry['file']}; refused")
        return load_state(entry)

    original = _api.WeightsEnum.get_state_dict
    with _PATCH:
        _api.WeightsEnum.get_state_dict = get_state_dict  # type: ignore[method-assign]
        try:
            yield
        finally:
            _api.WeightsEnum.get_state_dict = original  # type: ignore[method-assign]


_PATCH = threading.Lock()


def weights_enum(name: str):
    """torchvision's enum member for ``Enum.MEMBER``."""
    from torchvision import models

    enum, _, member = name.partition(".")
    return models.get_weight(f"{enum}.{member}")


def _leaf_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(module.named_parameters(recurse=False)), **dict(module.named_buffers(recurse=False))}


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


def _settings(module: nn.Module) -> dict:
    """A module's plain settings (``num_classes``, ``num_columns``...): a head that keeps the
    class count outside its tensors must be replaced whole."""
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and k != "training"
            and isinstance(v, (int, float, str, bool, tuple, list))}


def replace_heads(pretrained: nn.Module, fresh: nn.Module) -> list[str]:
    """Put ``fresh``'s layers into ``pretrained`` wherever their shapes differ (the layers
    sized by the class count), each with the largest enclosing module whose settings differ
    too (SSD's class head reshapes by its ``num_columns``); returns their names."""
    theirs = dict(pretrained.named_modules())
    mine = dict(fresh.named_modules())
    points: set[str] = set()
    for name, module in mine.items():
        if not name or list(module.children()) or name not in theirs:
            continue
        old = _leaf_tensors(theirs[name])
        if not any(k in old and old[k].shape != v.shape for k, v in _leaf_tensors(module).items()):
            continue
        point, parts = name, name.split(".")
        for i in range(len(parts) - 1, 0, -1):
            above = ".".join(parts[:i])
            if above in theirs and _settings(theirs[above]) != _settings(mine[above]):
                point = above
        points.add(point)
    swapped = sorted(p for p in points if not any(p.startswith(q + ".") for q in points))
    for name in swapped:
        _set(pretrained, name, mine[name])
    if hasattr(pretrained, "aux_classifier") and getattr(fresh, "aux_classifier", None) is None:
        pretrained.aux_classifier = None  # torchvision turns it on with its weights; we train "out"
    return swapped


def first_conv_channels(model: nn.Module, in_channels: int) -> None:
    """Let a pretrained network take ``in_channels`` (grey: the first convolution's filters
    summed over RGB, which keeps what they detect)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels == in_channels:
                return
            conv = nn.Conv2d(in_channels, module.out_channels, module.kernel_size, module.stride,
                             module.padding, module.dilation, module.groups, module.bias is not None)
            with torch.no_grad():
                summed = module.weight.sum(1, keepdim=True)
                conv.weight.copy_(summed.repeat(1, in_channels, 1, 1) / in_channels
                                  if in_channels != 1 else summed)
                if module.bias is not None:
                    conv.bias.copy_(module.bias)
            _set(model, name, conv)
            return


def _transfer(model: nn.Module, loaded: Callable[[str], bool], source: str) -> dict:
    names = list(model.state_dict())
    return {"loaded": [n for n in names if loaded(n)], "fresh": [n for n in names if not loaded(n)],
            "pretrained": source}


def build(builder: Callable[..., nn.Module], network: dict, num_classes: int,
          kwargs: dict | None = None, in_channels: int = 3,
          fresh_channels: Callable[[nn.Module, int], nn.Module] | None = None) -> nn.Module:
    """``builder`` (a torchvision model function) for ``num_classes`` classes, started from the
    spec's ``weights`` (whole network) or ``weights_backbone``; ``fresh_channels`` adapts a
    random build to ``in_channels`` (classification)."""
    kwargs = dict(kwargs or {})
    entry = network.get("weights") or network.get("weights_backbone")
    with weights_from_cache(entry):
        return _build(builder, network, num_classes, kwargs, entry, in_channels, fresh_channels)


def _build(builder, network: dict, num_classes: int, kwargs: dict, entry: dict, in_channels: int,
           fresh_channels) -> nn.Module:
    try:
        if network.get("weights"):
            model = builder(weights=weights_enum(entry["name"]),
                            **{k: v for k, v in kwargs.items() if k not in OWN_WHEN_PRETRAINED})
            fresh = builder(weights=None, num_classes=num_classes, **_random(builder, kwargs))
            if fresh_channels is not None:
                first_conv_channels(model, in_channels)
                fresh = fresh_channels(fresh, in_channels)
            heads = replace_heads(model, fresh)
            model.digitsx_transfer = _transfer(  # type: ignore[attr-defined]
                model, lambda n: not any(n.startswith(h + ".") for h in heads), entry["name"])
        else:
            model = builder(weights=None, weights_backbone=weights_enum(entry["name"]),
                            num_classes=num_classes, **kwargs)
            prefix = backbone_prefix(model)
            model.digitsx_transfer = _transfer(  # type: ignore[attr-defined]
                model, lambda n: n.startswith(prefix), entry["name"])
    except RuntimeError as err:  # load_state_dict: names the layers that do not fit
        raise weights_cache.WeightsError(
            f"{entry['name']} does not fit {getattr(builder, '__name__', 'the network')}: "
            f"{' '.join(str(err).split())[:400]}") from err
    return model


def _random(builder, kwargs: dict) -> dict:
    """A random build's keyword arguments (detection and segmentation take weights_backbone)."""
    import inspect

    if "weights_backbone" in inspect.signature(builder).parameters:
        return {"weights_backbone": None, **kwargs}
    return kwargs


def backbone_prefix(model: nn.Module) -> str:
    """The tensors an ImageNet backbone fills: a detector's ``backbone.body`` (FPN) or
    ``backbone.features`` (SSD), a segmenter's ``backbone``."""
    names = dict(model.named_modules())
    for candidate in ("backbone.body", "backbone.features", "backbone"):
        if candidate in names:
            return candidate + "."
    raise weights_cache.WeightsError("this network has no backbone to start from ImageNet weights")
