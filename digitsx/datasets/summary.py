"""A dataset's summary: DIGITS's JSON shape (ParseFolderTasks, CreateDbTasks) plus ours."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .discover import SPLITS
from .folder import DatasetFolder


def read_meta(folder: Path) -> dict[str, Any] | None:
    """``meta.json`` of a finished build, or None."""
    return DatasetFolder(folder).read_meta()


def details(job, folder: Path) -> dict[str, Any]:
    """What ``/datasets/<id>.json`` adds to the job's JSON."""
    spec, result, meta = job.spec, job.result, read_meta(folder)
    image = spec.get("image", {})
    labels = (meta or result).get("labels") or []
    splits = (meta or {}).get("splits") or {
        s: {"entries": sum(c), "counts": c} for s, c in (result.get("distribution") or {}).items()}
    planned = result.get("planned") or {}
    skipped = (meta or {}).get("skipped") or []
    counts = {s: splits.get(s, {}).get("entries", planned.get(s, 0)) for s in SPLITS}
    out = {
        "ParseFolderTasks": [{"name": "Parse Folder (train/val)" if spec.get("method") == "folder"
                              else "Parse Text Lists", "label_count": len(labels),
                              "train_count": counts["train"], "val_count": counts["val"],
                              "test_count": counts["test"]}],
        "CreateDbTasks": [{"name": f"Create DB ({s})", "entries": splits[s]["entries"],
                           "image_width": image.get("width"), "image_height": image.get("height"),
                           "image_channels": image.get("channels"), "backend": "lmdb",
                           "encoding": image.get("encoding")} for s in SPLITS if s in splits],
        "dataset": {
            "method": spec.get("method"), "image": image, "labels": labels, "splits": splits,
            "planned": planned, "dropped": (meta or result).get("dropped") or [],
            "skipped": skipped[:1000],
            "skipped_count": len(skipped) if meta else result.get("skipped_count", 0),
            "health": (meta or {}).get("health"), "size_bytes": (meta or result).get("size_bytes"),
            "images_per_second": (meta or result).get("images_per_second"),
            "mean_image": f"/files/{job.id}/mean.png" if (folder / "mean.png").exists() else None,
            "labels_file": f"/files/{job.id}/labels.txt" if (folder / "labels.txt").exists() else None,
        },
    }
    return out


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
