"""What every task's model JSON starts from: its dataset's meta and image, its network's layers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
