"""What a segmentation job's JSON adds: the dataset's pixel shares, palette and health; the
model's validation (mIoU, per-class IoU, confusion); a test job's report."""
from __future__ import annotations

from pathlib import Path
from typing import Any

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
    from ..models.summary import model_details as details

    return details(job, folder, lambda meta, image, network: ({}, {"palette": meta.get("palette")}))


def test_details(job, folder: Path) -> dict[str, Any]:
    return {"report": job.result.get("report"), "model_id": job.spec.get("model", {}).get("id"),
            "results_url": f"/models/{job.id}/segmentation.json"
            if (folder / "results" / "segmentation.json").exists() else None}
