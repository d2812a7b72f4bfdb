"""The weights torchvision publishes for each network every task offers, read without torch.

``published_weights.json`` is written from ``torchvision.models.get_model_weights`` by
``scripts/published_weights.py`` (a test keeps it equal to the installed torchvision). A model
form takes torchvision's own names: ``weights=ResNet18_Weights.IMAGENET1K_V1`` (or ``DEFAULT``)
for the whole network, ``weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1`` for a
detector's or segmenter's ImageNet backbone; blank: random weights. Fine-tuning controls every
start from loaded weights shares: ``freeze_backbone_epochs``, ``backbone_lr_mult``.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..fields import Field, FieldReader

FIELDS = {
    "weights": Field("text", help="torchvision's published weights for the whole network, e.g. "
                                  "ResNet18_Weights.IMAGENET1K_V1 or DEFAULT (the head is replaced "
                                  "for the dataset's classes); blank: random weights"),
    "weights_backbone": Field("text", help="detection and segmentation: ImageNet weights for the "
                                           "backbone only, e.g. MobileNet_V3_Large_Weights.IMAGENET1K_V1"),
    "freeze_backbone_epochs": Field("int", 0, 0, 100000, help="epochs the loaded (pretrained) "
                                                              "layers stay frozen while the new head learns"),
    "backbone_lr_mult": Field("float", 1, 0, 10, help="the loaded layers' learning rate, as a multiple "
                                                      "of the new head's"),
}


def catalog() -> dict[str, Any]:
    """torchvision's lists, or a site's own file in the same format (``DIGITSX_WEIGHTS_CATALOG``:
    weights re-published inside an air-gapped site, and the tests, which cannot fetch real ones
    and so publish their own files with their own hashes)."""
    return _load(os.environ.get("DIGITSX_WEIGHTS_CATALOG") or str(Path(__file__).with_name("published_weights.json")))


PINNED = Path(__file__).with_name("weights_sha256.json")


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    """The catalog, each entry with the full SHA-256 we pin for its file
    (``weights_sha256.json``, written by ``scripts/pin_weights_sha256.py`` on a machine that can
    download them) unless the catalog gives one itself."""
    found = json.loads(Path(path).read_text())
    pins = json.loads(PINNED.read_text()).get("files", {}) if PINNED.is_file() else {}
    for entry in found.get("weights", {}).values():
        digest = pins.get(entry.get("file"))
        if digest and not entry.get("sha256"):
            entry["sha256"] = digest
    return found


def weights() -> dict[str, dict]:
    """Every published weights entry by torchvision's name (``Enum.MEMBER``)."""
    return catalog()["weights"]


def choices(task: str, network: str) -> dict[str, Any]:
    """What ``network`` of ``task`` may start from: ``weights`` and ``backbone`` (full entries),
    their defaults; empty lists for our own networks."""
    entry = catalog()["networks"].get(f"{task}/{network}")
    if entry is None:
        return {"weights": [], "backbone": [], "default": "", "backbone_default": ""}
    every = weights()
    return {"weights": [every[n] for n in entry["weights"]], "backbone": [every[n] for n in entry["backbone"]],
            "default": entry["default"], "backbone_default": entry["backbone_default"]}


def form_choices(task: str, weights_dir: str) -> dict[str, dict]:
    """:func:`choices` for each of ``task``'s networks, each weight marked ``cached`` when its
    checked file is in the cache (the model form's lists)."""
    from ..engine import weights_cache
    from . import registry

    folder = weights_cache.folder(weights_dir)
    out = {}
    for name in registry.names(task):
        c = choices(task, name)
        for key in ("weights", "backbone"):
            c[key] = [{**w, "cached": bool(weights_cache.recorded(folder / w["file"])),
                       "cache_path": str(folder / w["file"])} for w in c[key]]
        out[name] = c
    return out


def resolve(options: list[dict], default: str, value: str) -> dict:
    """The entry ``value`` names among ``options`` (``DEFAULT`` or ``Enum.DEFAULT``: the
    default; case does not matter); ValueError lists the choices."""
    wanted = value.strip()
    if wanted.upper() == "DEFAULT" or wanted.upper().endswith(".DEFAULT"):
        wanted = default
    for entry in options:
        if entry["name"].lower() == wanted.lower():
            return entry
    known = ", ".join(e["name"] for e in options) or "none: this network has no published weights"
    raise ValueError(f"{value!r} is not published for this network; choose one of {known}")


def read(r: FieldReader, task: str, network: dict[str, Any], config: dict) -> dict[str, Any]:
    """Add the published weights and fine-tuning fields to a parsed ``network`` (errors go to
    ``r``). Only a standard torchvision network can start from published weights."""
    network = dict(network)
    ask, ask_backbone = r.text("weights"), r.text("weights_backbone")
    if ask or ask_backbone:
        field = "weights" if ask else "weights_backbone"
        if network.get("method") != "standard" or not network.get("name") or network.get("previous") \
                or network.get("backbone"):
            r.error(field, "published weights start a standard network (method=standard): a "
                           "custom, continued or pretrained network has its own weights")
        elif ask and ask_backbone:
            r.error("weights_backbone", "choose one: weights (the whole network) or "
                                        "weights_backbone (the backbone only)")
        else:
            options = choices(task, network["name"])
            try:
                if ask:
                    entry = resolve(options["weights"], options["default"], ask)
                else:
                    entry = resolve(options["backbone"], options["backbone_default"], ask_backbone)
            except ValueError as err:
                r.error(field, str(err))
            else:
                network[field] = {**entry, "cache": str(config.get("WEIGHTS_DIR") or ""),
                                  "mirror": str(config.get("WEIGHTS_MIRROR") or "")}
    network["freeze_backbone_epochs"] = r.number("freeze_backbone_epochs") or 0
    mult = r.number("backbone_lr_mult")
    network["backbone_lr_mult"] = 1.0 if mult is None else float(mult)
    return network


def origin(network: dict[str, Any]) -> str | None:
    """The lineage line for published weights: "torchvision ResNet18_Weights.IMAGENET1K_V1"."""
    for key, what in (("weights", ""), ("weights_backbone", " (backbone)")):
        entry = network.get(key) if isinstance(network, dict) else None
        if isinstance(entry, dict) and entry.get("name"):
            return f"torchvision {entry['name']}{what}"
    return None
