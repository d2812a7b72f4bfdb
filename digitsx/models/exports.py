"""Preparing a snapshot's download archive off the request: one background export per archive.

The first download of a snapshot builds its archive (weights, network source, labels, and the
TorchScript and ONNX exports, each checked against PyTorch): tens of seconds on a busy machine.
No request waits that long. ``GET …/download`` starts the export (or joins the one running),
waits a short while (``EXPORT_WAIT_SECONDS``, 10 s) and answers the file if it is ready by then;
otherwise 202 with ``{status: "preparing", step, progress, elapsed, status_url}`` and
``Retry-After``. The same ``GET`` answers the file once it exists (DIGITS's synchronous route);
``status_url`` (``/models/<id>/export.json``) says how far the export is, and the page polls it.

**One archive per snapshot, and a bounded number of exports.** Every format is served from
the one ``.tar.gz`` an export builds (``.tgz`` is that file; ``.tar`` and ``.zip`` are
streamed from it), so four formats never mean four exports. An export takes one of the
scheduler's CPU slots like other work (it waits, ``queued``, while jobs hold them all); at most
``EXPORT_LIMIT`` exports are queued or running on the server and ``EXPORT_USER_LIMIT`` per
user, beyond which a new one answers 429.

The export module (the kind's ``export``) runs as ``python -m module JOB_DIR EPOCH ARCHIVE``;
it writes its steps to ``ARCHIVE.progress`` (:func:`digitsx.models.export.report`) and prints
one JSON line at its end. Torch-free: the web process only starts and watches it.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..jobs import launch


@dataclass
class Export:
    """One archive being built."""

    archive: Path
    username: str = ""
    started: float = field(default_factory=time.time)
    state: str = "preparing"  # preparing (queued for a CPU slot, then running), ready, error
    queued: bool = True
    error: str | None = None
    finished: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def progress(self) -> dict[str, Any]:
        """The export's last reported step (``ARCHIVE.progress``), if any."""
        if self.queued and self.state == "preparing":
            return {"step": "waiting for a free CPU slot", "progress": 0.0}
        try:
            found = json.loads(self.archive.with_name(self.archive.name + ".progress").read_text())
            return {"step": str(found.get("step", "")), "progress": float(found.get("progress", 0))}
        except (OSError, ValueError, TypeError, AttributeError):
            return {"step": "starting", "progress": 0.0}

    def status(self) -> dict[str, Any]:
        end = self.finished or time.time()
        out: dict[str, Any] = {"status": self.state, "elapsed": round(end - self.started, 1), **self.progress()}
        if self.state == "ready":
            out.update(step="ready", progress=1.0)
        if self.error:
            out["error"] = self.error
        return out


class Exports:
    """The exports this server runs, by archive path; a finished one is forgotten once its file
    exists (the file is the cache) or when its error has been answered."""

    def __init__(self, jobs_dir: Path, spawn: Callable, timeout: Callable[[], float],
                 nice: int = 0, slots: tuple[Callable[[str], bool], Callable[[str], None]] | None = None,
                 limits: tuple[int, int] = (4, 2), sleep: Callable[[float], None] = time.sleep) -> None:
        self.jobs_dir, self.spawn, self.timeout, self.nice = jobs_dir, spawn, timeout, nice
        self.reserve, self.release = slots or (lambda holder: True, lambda holder: None)
        self.limit, self.user_limit = limits
        self.sleep = sleep
        self.running: dict[str, Export] = {}
        self._lock = threading.Lock()

    def get(self, archive: Path) -> Export | None:
        return self.running.get(str(archive))

    def start(self, module: str, job_dir: Path, epoch: float, archive: Path,
              username: str = "") -> tuple[Export, bool]:
        """The export of ``archive``: the one running, or a new one (then True); ExportLimit
        when the server, or this user, has as many exports queued or running as allowed."""
        with self._lock:
            export = self.running.get(str(archive))
            if export is not None:
                return export, False
            pending = [e for e in self.running.values() if not e.done.is_set()]
            if len(pending) >= self.limit:
                raise ExportLimit(f"{len(pending)} exports are being built on this server, the most "
                                  f"allowed; try again when one has finished")
            if sum(1 for e in pending if e.username == username) >= self.user_limit:
                raise ExportLimit(f"you have {self.user_limit} exports being built, the most allowed "
                                  f"per user; try again when one has finished")
            export = self.running[str(archive)] = Export(archive, username)
        self.spawn(self._run, export, module, job_dir, epoch)
        return export, True

    def _run(self, export: Export, module: str, job_dir: Path, epoch: float) -> None:
        archive = export.archive
        holder = f"export:{archive}"
        while not self.reserve(holder):  # a CPU slot, as jobs take them
            self.sleep(1.0)
        export.queued, export.started = False, time.time()
        try:
            archive.parent.mkdir(parents=True, exist_ok=True)
            self._export(export, module, job_dir, epoch)
        finally:
            self.release(holder)
            export.done.set()

    def _export(self, export: Export, module: str, job_dir: Path, epoch: float) -> None:
        archive = export.archive
        try:
            code, out, err = launch.run_module(module, [str(job_dir), f"{epoch:g}", str(archive)],
                                               self.jobs_dir, timeout=self.timeout(), nice=self.nice)
            try:
                answer = json.loads(out.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                answer = {"ok": False, "error": "it took too long" if code is None else
                          (err.strip()[-500:] or f"the export exited with code {code}")}
        except Exception as err:  # noqa: BLE001 - whatever stops it is the answer
            answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        export.state = "ready" if answer.get("ok") and archive.exists() else "error"
        export.error = None if export.state == "ready" else str(answer.get("error") or "no archive")
        export.finished = time.time()
        archive.with_name(archive.name + ".progress").unlink(missing_ok=True)

    def finish(self, export: Export) -> None:
        """Forget a finished export (its file, or its error once answered)."""
        with self._lock:
            if self.running.get(str(export.archive)) is export and export.done.is_set():
                self.running.pop(str(export.archive))


class ExportLimit(Exception):
    """As many exports are queued or running as allowed (the server's, or one user's)."""


__all__ = ["Export", "ExportLimit", "Exports"]
