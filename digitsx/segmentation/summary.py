"""What a segmentation job's JSON adds: the dataset's pixel shares, palette and health; the
model's validation (mIoU, per-class IoU, confusion); a test job's report."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.spec import DatasetRef
from ..datasets.folder import DatasetFolder


def dataset_details(job, folder: Path) -> dict[str, Any]:
    meta = DatasetFolder(folder).read_meta()
    result = job.result
    return {"segmentation": {
        "labels": (meta or result).get("labels") or [], "palette": (meta or {}).get("palette"),
        "splits": (meta or result).get("splits") or {}, "pixels": result.get("pixels"),
        "image": (meta or {}).get("image"), "health": (meta or {}).get("health"),
        "images_per_second": (meta or result).get("images_per_second"),
        "labels_file": f"/files/{job.id}/labels.txt" if (folder / "labels.txt").exists() else None}}


def model_details(job, folder: Path) -> dict[str, Any]:
    from ..models.summary import model_facts

    spec, result = job.spec, job.result
    meta, image, network = model_facts(job, folder)
    return {
        "dataset_id": DatasetRef.of(spec).id or None,
        "snapshots": [s["epoch"] for s in result.get("snapshots", [])],
        "image dimensions": [image.get("height"), image.get("width"), image.get("channels")],
        "labels file": f"/files/{spec.get('dataset', {}).get('id')}/labels.txt", "framework": "torch",
        "model": {"network": spec.get("network", {}).get("name") or spec.get("network", {}).get("method"),
                  "solver": spec.get("solver"), "lr": spec.get("lr"), "train_epochs": spec.get("train_epochs"),
                  "batch_size": spec.get("batch_size"), "augment": spec.get("augment"),
                  "labels": meta.get("labels", []), "palette": meta.get("palette"),
                  "validation": result.get("validation"), "parameters": network.get("parameters"),
                  "transfer": result.get("transfer")},
    }


def test_details(job, folder: Path) -> dict[str, Any]:
    return {"report": job.result.get("report"), "model_id": job.spec.get("model", {}).get("id"),
            "results_url": f"/models/{job.id}/segmentation.json"
            if (folder / "results" / "segmentation.json").exists() else None}
