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


def host_copy(state):
    """A copy of ``state`` (nested dicts and lists of tensors) in host memory, taken now: the
    loop may change the live tensors as soon as this returns. GPU tensors are copied into
    pinned buffers without waiting one by one, then synchronised once."""
    import torch

    pending = []

    def copy(value):
        if isinstance(value, torch.Tensor):
            value = value.detach()
            if value.is_cuda:
                host = torch.empty(value.shape, dtype=value.dtype, pin_memory=True)
                host.copy_(value, non_blocking=True)
                pending.append(value.device)
                return host
            return value.clone()
        if isinstance(value, dict):
            return {k: copy(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(copy(v) for v in value)
        return value

    out = copy(state)
    for device in set(pending):
        torch.cuda.synchronize(device)
    return out


class BackgroundWriter:
    """Writes snapshots off the training loop: :meth:`submit` takes a host copy of the state
    (see :func:`host_copy`) and returns; a thread writes the file atomically and then calls
    ``done``. One write at a time; a failed write (a full disk) is raised by the next
    :meth:`submit` or by :meth:`wait`, so the job still ends in Error with the reason."""

    def __init__(self) -> None:
        self.thread = None
        self.error: BaseException | None = None

    def submit(self, path: Path, state: dict, done=None) -> None:
        import threading

        self.wait()
        snapshot = host_copy(state)

        def work() -> None:
            try:
                write(path, snapshot)
                if done is not None:
                    done()
            except BaseException as err:  # noqa: BLE001 - re-raised in the loop's thread
                self.error = err

        self.thread = threading.Thread(target=work, name="snapshot-writer", daemon=False)
        self.thread.start()

    def wait(self) -> None:
        """Until the write in flight is done; raises its error if it failed."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            err, self.error = self.error, None
            raise err


def prune(folder: Path, keep: int, protect: float | None = None) -> list[dict]:
    """Delete all but the newest ``keep`` snapshots and the one of epoch ``protect`` (the
    best); the kept ones as ``{epoch, file}``."""
    found = snapshots(folder)
    kept = [p for p in found[:-keep] if protect is not None and epoch_of(p) == float(protect)] + found[-keep:]
    for old in found[:-keep]:
        if old not in kept:
            old.unlink()
    return [{"epoch": epoch_of(p), "file": p.name} for p in kept]


def prune_to_budget(folder: Path, budget_bytes: float, protect: float | None = None) -> list[dict] | None:
    """Delete the oldest snapshots until all of them fit ``budget_bytes``, never the newest
    nor the one of epoch ``protect`` (the best); the kept ones as ``{epoch, file}``, or None
    when nothing was deleted."""
    found = snapshots(folder)
    sizes = {p: p.stat().st_size for p in found if p.exists()}
    total, deleted = sum(sizes.values()), False
    for old in found[:-1]:
        if total <= budget_bytes:
            break
        if protect is not None and epoch_of(old) == float(protect):
            continue
        old.unlink(missing_ok=True)
        total -= sizes.get(old, 0)
        deleted = True
    if not deleted:
        return None
    return [{"epoch": epoch_of(p), "file": p.name} for p in snapshots(folder)]


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
