"""What every task's dataset pages share: a finished build's ``meta.json``, and the one-line
summary of a dataset in a model form's picker."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .folder import SPLITS, DatasetFolder


def read_meta(folder: Path) -> dict[str, Any] | None:
    """``meta.json`` of a finished build, or None."""
    return DatasetFolder(folder).read_meta()


def picker_line(folder: Path) -> str:
    """One line for a model form's dataset picker, any task: images per split, classes, image
    size ("30 train / 10 val images · 10 classes · 28×28 grayscale")."""
    meta = DatasetFolder(folder).read_meta() or {}
    splits = meta.get("splits") or {}
    counts = " / ".join(f"{splits[s]['entries']:,} {s}" for s in SPLITS if (splits.get(s) or {}).get("entries"))
    image = meta.get("image") or {}
    colour = "grayscale" if image.get("channels") == 1 else "colour"
    size = f" · {image['width']}×{image['height']} {colour}" if image.get("width") and image.get("height") else ""
    return f"{counts or 'no'} images · {len(meta.get('labels') or [])} classes{size}"
