"""Write ``digitsx/models/published_weights.json``: the weights torchvision publishes for every
network digitsx offers (``torchvision.models.get_model_weights``), read once here so the web
process lists and checks them without importing torch.

    .venv/bin/python scripts/published_weights.py      # after a torchvision upgrade

``tests/models/test_published_weights.py`` fails while the file and the installed torchvision
disagree.
"""
from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = ROOT / "digitsx" / "models" / "published_weights.json"
HASH = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's HASH_REGEX: the file name's SHA-256 prefix


def weight_entry(weight) -> dict:
    """What a form shows and a worker checks for one torchvision weights enum member."""
    meta = weight.meta
    metrics = meta.get("_metrics") or {}
    trained_on = next(iter(metrics), "")
    file = weight.url.rsplit("/", 1)[-1]
    found = HASH.search(file)
    return {"name": f"{type(weight).__name__}.{weight.name}", "url": weight.url, "file": file,
            "sha256_prefix": found.group(1) if found else "",
            "size_mb": float(meta.get("_file_size") or 0), "parameters": int(meta.get("num_params") or 0),
            "classes": len(meta.get("categories") or []), "trained_on": trained_on,
            "metrics": {k: float(v) for k, v in (metrics.get(trained_on) or {}).items()},
            "min_size": list(meta.get("min_size") or (1, 1))}


def network_entry(builder: str) -> tuple[dict, list]:
    """(the network's lists, every weight it names) for one torchvision builder."""
    from torchvision import models

    weights = list(models.get_model_weights(builder))
    default = models.get_model_weights(builder).DEFAULT
    entry = {"builder": builder, "weights": [weight_entry(w)["name"] for w in weights],
             "default": weight_entry(default)["name"], "backbone": [], "backbone_default": ""}
    found = list(weights)
    parameter = inspect.signature(models.get_model_builder(builder)).parameters.get("weights_backbone")
    if parameter is not None:
        enum = next(a for a in getattr(parameter.annotation, "__args__", (parameter.annotation,))
                    if a is not type(None))
        entry["backbone"] = [weight_entry(w)["name"] for w in enum]
        entry["backbone_default"] = weight_entry(enum.DEFAULT)["name"]
        found += list(enum)
    return entry, found


def catalog() -> dict:
    import torchvision

    import importlib

    from digitsx.models import registry

    networks, weights = {}, {}
    for task in ("classification", "detection", "segmentation"):
        importlib.import_module(f"digitsx.{task}.catalog")  # registers the task's networks
        for name, net in registry.networks(task).items():
            builder = net.kwargs.get("builder")
            if not builder:
                continue  # our own networks (LeNet, U-Net): nothing published
            entry, found = network_entry(builder)
            networks[f"{task}/{name}"] = entry
            for w in found:
                weights[weight_entry(w)["name"]] = weight_entry(w)
    return {"torchvision": torchvision.__version__.split("+")[0], "networks": networks,
            "weights": dict(sorted(weights.items()))}


if __name__ == "__main__":
    TARGET.write_text(json.dumps(catalog(), indent=1) + "\n")
    print(f"wrote {TARGET}")
