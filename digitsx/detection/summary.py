"""What a detection job's JSON adds: the dataset's counts, histograms and health; the model's
validation (mAP, per-class AP, the F1-best threshold); a test job's report."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.spec import DatasetRef
from ..datasets.folder import DatasetFolder


def dataset_details(job, folder: Path) -> dict[str, Any]:
    meta = DatasetFolder(folder).read_meta()
    result = job.result
    splits = (meta or {}).get("splits") or {
        s: {"entries": None, "counts": c} for s, c in (result.get("distribution") or {}).items()}
    return {"detection": {
        "labels": (meta or result).get("labels") or [], "splits": splits,
        "planned": result.get("planned") or {}, "label_format": job.spec.get("label_format"),
        "image": (meta or {}).get("image"), "health": (meta or {}).get("health"),
        "histograms": (meta or {}).get("histograms"),
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
        "labels file": f"/files/{spec.get('dataset', {}).get('id')}/labels.txt",
        "framework": "torch",
        "model": {"network": spec.get("network", {}).get("name") or spec.get("network", {}).get("method"),
                  "solver": spec.get("solver"), "lr": spec.get("lr"),
                  "train_epochs": spec.get("train_epochs"), "batch_size": spec.get("batch_size"),
                  "augment": spec.get("augment"), "labels": meta.get("labels", []),
                  "validation": result.get("validation"), "parameters": network.get("parameters"),
                  "transfer": result.get("transfer")},
    }


def test_details(job, folder: Path) -> dict[str, Any]:
    return {"report": job.result.get("report"), "model_id": job.spec.get("model", {}).get("id"),
            "results_url": f"/models/{job.id}/detections.json" if (folder / "results" / "detections.json").exists() else None}
