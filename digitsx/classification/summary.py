"""Image classification's JSON: a dataset's (DIGITS's ParseFolderTasks, CreateDbTasks plus
ours) and a model's (snapshots, image dimensions, labels file... plus ours)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..datasets.folder import SPLITS
from ..datasets.summary import read_meta
from ..engine.spec import DatasetRef, DatasetSpec
from ..models.summary import model_facts


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
    """What ``/models/<id>.json`` adds to the job's JSON."""
    spec, result = job.spec, job.result
    meta, image, network = model_facts(job, folder)
    return {
        "dataset_id": DatasetRef.of(spec).id or None,
        "snapshots": [s["epoch"] for s in result.get("snapshots", [])],
        "image dimensions": [image.get("height"), image.get("width"), image.get("channels")],
        "image resize mode": image.get("resize_mode"),
        "labels file": f"/files/{DatasetRef.of(spec).id or None}/labels.txt",
        "framework": "torch",
        "model": {"network": spec.get("network", {}).get("name") or spec.get("network", {}).get("method"),
                  "solver": spec.get("solver"), "lr": spec.get("lr"),
                  "train_epochs": spec.get("train_epochs"), "batch_size": spec.get("batch_size"),
                  "augment": spec.get("augment"), "labels": meta.get("labels", []),
                  "validation": result.get("validation"), "layers": network.get("layers", []),
                  "parameters": network.get("parameters"), "transfer": result.get("transfer"),
                  "note": "DIGITS's caffe framework runs digitsx's PyTorch implementation of "
                          "the same network" if spec.get("requested_framework") == "caffe" else None},
    }
