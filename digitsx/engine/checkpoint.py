"""Snapshot files: their names, listing, atomic writing, pruning, and partial weight loading.

A snapshot is ``snapshot_epoch_<e>.pt`` in a model's folder: a plain dict saved with
``torch.save`` and loaded with ``weights_only=True`` (weights, optimizer, scaler, RNG, epoch).
"""
from __future__ import annotations

from pathlib import Path

# torch is imported inside the functions that need it: the web process (forms, routes) uses
# the naming helpers and must stay torch-free.


def snapshot_path(folder: Path, epoch: float) -> Path:
    """Where the snapshot of ``epoch`` lives (``snapshot_epoch_3.pt``, ``snapshot_epoch_2.5.pt``)."""
    return folder / f"snapshot_epoch_{epoch:g}.pt"


def epoch_of(path: Path) -> float:
    """The epoch a snapshot file is named after."""
    return float(path.stem.rsplit("_", 1)[1])


def snapshots(folder: Path) -> list[Path]:
    """Every snapshot in the folder, oldest epoch first."""
    return sorted(folder.glob("snapshot_epoch_*.pt"), key=epoch_of)


def latest_snapshot(folder: Path) -> Path | None:
    """The newest snapshot in the folder, or None."""
    found = snapshots(folder)
    return found[-1] if found else None


_LATEST: dict[str, tuple[int, float | None]] = {}


def latest_epoch(folder: Path) -> float | None:
    """The epoch of the newest snapshot, re-listed only when the folder changes (its mtime moves
    whenever a snapshot is written, renamed into place or pruned); None when there is none."""
    import os

    try:
        stamp = os.stat(folder).st_mtime_ns
    except OSError:
        return None
    cached = _LATEST.get(str(folder))
    if cached is None or cached[0] != stamp:
        latest = latest_snapshot(folder)
        cached = _LATEST[str(folder)] = (stamp, epoch_of(latest) if latest is not None else None)
    return cached[1]


def write(path: Path, state: dict) -> None:
    """Save atomically: a crash while saving never leaves a torn snapshot."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def prune(folder: Path, keep: int) -> list[dict]:
    """Delete all but the newest ``keep`` snapshots; the kept ones as ``{epoch, file}``."""
    found = snapshots(folder)
    for old in found[:-keep]:
        old.unlink()
    return [{"epoch": epoch_of(p), "file": p.name} for p in found[-keep:]]


def load_matching(model, path: Path) -> dict[str, list[str]]:
    """Load into ``model`` the tensors (of a snapshot or a plain state dict) whose names and
    shapes match; say which were loaded and which stay freshly initialised."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state["model"] if isinstance(state.get("model"), dict) else state
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    own.update(usable)
    model.load_state_dict(own)
    return {"loaded": sorted(usable), "fresh": sorted(k for k in own if k not in usable)}
