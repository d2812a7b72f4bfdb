"""What a detection job's JSON adds: the dataset's counts, histograms and health; the model's
validation (mAP, per-class AP, the F1-best threshold); a test job's report."""
from __future__ import annotations

from pathlib import Path
from typing import Any

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
    from ..models.summary import model_details as details

    return details(job, folder)


def test_details(job, folder: Path) -> dict[str, Any]:
    return {"report": job.result.get("report"), "model_id": job.spec.get("model", {}).get("id"),
            "results_url": f"/models/{job.id}/detections.json" if (folder / "results" / "detections.json").exists() else None}
