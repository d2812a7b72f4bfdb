"""A model's JSON: DIGITS's shape (snapshots, image dimensions, labels file...) plus ours."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..datasets.folder import DatasetFolder


def model_facts(job, folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Any model job's (dataset meta, its image, network.json), each {} when missing."""
    meta = DatasetFolder(Path(job.spec.get("dataset", {}).get("dir", ""))).read_meta() or {}
    network = {}
    try:
        network = json.loads((folder / "network.json").read_text())
    except (OSError, json.JSONDecodeError):
        pass
    return meta, meta.get("image", {}), network


def details(job, folder: Path) -> dict[str, Any]:
    """What ``/models/<id>.json`` adds to the job's JSON."""
    spec, result = job.spec, job.result
    meta, image, network = model_facts(job, folder)
    return {
        "dataset_id": spec.get("dataset", {}).get("id"),
        "snapshots": [s["epoch"] for s in result.get("snapshots", [])],
        "image dimensions": [image.get("height"), image.get("width"), image.get("channels")],
        "image resize mode": image.get("resize_mode"),
        "labels file": f"/files/{spec.get('dataset', {}).get('id')}/labels.txt",
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
