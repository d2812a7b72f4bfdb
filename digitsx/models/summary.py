"""What every task's model JSON starts from: its dataset's meta and image, its network's layers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ..engine.spec import DatasetRef
from ..datasets.folder import DatasetFolder


def model_facts(job, folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Any model job's (dataset meta, its image, network.json), each {} when missing."""
    meta = DatasetFolder(Path(DatasetRef.of(job.spec).dir)).read_meta() or {}
    network = {}
    try:
        network = json.loads((folder / "network.json").read_text())
    except (OSError, json.JSONDecodeError):
        pass
    return meta, meta.get("image", {}), network


def model_details(job, folder: Path, extra: Callable[[dict, dict, dict], tuple[dict, dict]] | None = None
                  ) -> dict[str, Any]:
    """What any task's ``/models/<id>.json`` adds to the job's JSON (DIGITS's keys plus ours);
    ``extra(meta, image, network)`` → (the task's own top-level keys, its own ``model`` keys)."""
    spec, result = job.spec, job.result
    meta, image, network = model_facts(job, folder)
    top, more = extra(meta, image, network) if extra else ({}, {})
    dataset = DatasetRef.of(spec).id or None
    net = spec.get("network", {})
    return {
        "dataset_id": dataset, "snapshots": [s["epoch"] for s in result.get("snapshots", [])],
        "image dimensions": [image.get("height"), image.get("width"), image.get("channels")], **top,
        "labels file": f"/files/{dataset}/labels.txt", "framework": "torch",
        "model": {"network": net.get("name") or net.get("method"), "solver": spec.get("solver"),
                  "lr": spec.get("lr"), "train_epochs": spec.get("train_epochs"),
                  "batch_size": spec.get("batch_size"), "augment": spec.get("augment"),
                  "labels": meta.get("labels", []), "validation": result.get("validation"),
                  "parameters": network.get("parameters"), "transfer": result.get("transfer"), **more},
    }
