"""Image classification's JSON: a dataset's (DIGITS's ParseFolderTasks, CreateDbTasks plus
ours) and a model's (snapshots, image dimensions, labels file... plus ours)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..datasets.folder import SPLITS
from ..datasets.summary import read_meta
from ..engine.spec import DatasetSpec
from ..models.summary import model_details as details


def dataset_details(job, folder: Path) -> dict[str, Any]:
    """What ``/datasets/<id>.json`` adds to the job's JSON."""
    spec, result, meta = job.spec, job.result, read_meta(folder)
    image = DatasetSpec.from_dict(spec).image
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


def model_details(job, folder: Path) -> dict[str, Any]:
    """What ``/models/<id>.json`` adds to the job's JSON: the shared keys, the resize mode, the
    layers and (for a caffe request) a note."""
    def extra(meta: dict, image: dict, network: dict) -> tuple[dict, dict]:
        note = "DIGITS's caffe framework runs digitsx's PyTorch implementation of the same " \
               "network" if job.spec.get("requested_framework") == "caffe" else None
        return {"image resize mode": image.get("resize_mode")}, \
            {"layers": network.get("layers", []), "note": note}

    return details(job, folder, extra)
