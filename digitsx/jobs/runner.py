"""The one place that knows how a worker process is started, watched and stopped.

A worker is ``python -m <kind.worker> <job_dir>`` in its own process group (so an abort reaches
its DataLoader children too), with ``CUDA_VISIBLE_DEVICES`` set to its reservation, stdout a pipe
of protocol lines, stderr appended straight to ``log.txt`` (a traceback is kept even if the
server dies first). One watcher (a greenlet under gevent) per running job reads the pipe.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil

from ..db import Job
from . import kinds, launch, protocol
from .resources import Reservation
from ..errors import storage_full
from .status import Status
from .store import JobStore
from .summary import fold_metric, metric_summary
from ..engine.watch import stopped_note

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 0.25  # seconds between progress writes: a worker may report per batch
SCRATCH = "scratch"  # a job folder's throwaway space: removed when its worker ends


@dataclass
class Handle:
    """A running worker and what the watcher learned from it."""

    job_id: str
    proc: subprocess.Popen
    folder: Path
    aborting: bool = False
    ending: tuple | None = None  # (status, note) an abort ends with instead of Aborted: Pruned
    error: str | None = None
    last_progress: float = 0.0
    summary: dict | None = None  # the metric columns, written to the result every few seconds
    summary_written: float = 0.0
    started: float = field(default_factory=time.time)


class Runner:
    """Starts workers, turns their events into job updates, and stops them on abort."""

    def __init__(self, store: JobStore, publish: Callable[[str, str, dict], None],
                 spawn: Callable[..., Any], sleep: Callable[[float], Any],
                 on_exit: Callable[[str], None], grace: float = 10.0,
                 gpu_names: Callable[[tuple[int, ...]], str] | None = None,
                 prestart: bool = False, nice: int = 0) -> None:
        self.store = store
        self.nice = nice  # workers run this many steps below the web process (launch.lower_priority)
        self.publish = publish  # publish(job_id, event_name, data): live events to the job's room
        self.spawn, self.sleep, self.on_exit, self.grace = spawn, sleep, on_exit, grace
        self.gpu_names = gpu_names or (lambda ids: ",".join(map(str, ids)))
        self.handles: dict[str, Handle] = {}
        self.prestart = prestart  # keep a worker with torch imported ready while idle
        self.ready: subprocess.Popen | None = None
        self.on_validation: list[Callable[[str], None]] = []  # called with the job id of each val point

    def command(self, job: Job, reservation: Reservation | None = None) -> list[str]:
        """The worker's command line: one process, or one per GPU under torchrun (DDP) for a
        distributed kind holding several GPUs (``spec["processes"]`` forces N CPU processes,
        which is how the DDP path is tested on a machine without GPUs)."""
        kind = kinds.get(job.kind)
        worker = ["-m", kind.worker, str(self.store.job_dir(job.id))]
        procs = len(reservation.gpus) if reservation else 1
        procs = int(job.spec.get("processes") or procs) if kind.distributed else 1
        if reservation and reservation.gpus and procs > len(reservation.gpus):
            raise ValueError(f"{procs} processes asked for, but the job holds "
                             f"{len(reservation.gpus)} GPU(s): one process per GPU")
        if procs > 1:
            return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    f"--nproc_per_node={procs}", "--no-python", sys.executable] + worker
        return [sys.executable] + worker

    def environment(self, job: Job, reservation: Reservation) -> dict[str, str]:
        """The worker's environment: its GPUs only, unbuffered output, where it runs."""
        return launch.environment(self.store.jobs_dir, self.gpu_names(reservation.gpus),
                                  DIGITSX_JOB_ID=job.id, DIGITSX_DEVICE=reservation.device)

    # -- a worker started ahead of its job (digitsx.jobs.prestart) ----------------------------
    def prestart_if_idle(self) -> None:
        """With no job running, start a worker that imports torch now and waits for the next
        training job (it would otherwise spend ~5 s of its start importing). Never while a job
        runs: on a small machine the imports would slow that job down by as much."""
        if not self.prestart or self.handles or (self.ready is not None and self.ready.poll() is None):
            return
        try:
            self.ready = launch.launch([sys.executable, "-m", "digitsx.jobs.prestart"],
                                       self.store.jobs_dir, cwd=self.store.jobs_dir, nice=self.nice,
                                       stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            log.exception("could not prestart a worker")
            self.ready = None

    def close_prestarted(self) -> None:
        """End the waiting worker (the server stops)."""
        ready, self.ready = self.ready, None
        if ready is not None and ready.poll() is None:
            _signal_group(ready.pid, signal.SIGKILL)
            ready.wait()

    def _hand_over(self, command: list[str], folder: Path, env: dict[str, str]) -> subprocess.Popen | None:
        """Give ``python -m module JOB_DIR`` to the prestarted worker; None if there is none."""
        ready, self.ready = self.ready, None
        if ready is None or ready.poll() is not None or len(command) != 4 or command[1] != "-m":
            if ready is not None and ready.poll() is None:
                self.ready = ready  # not this job: keep it for the next
            return None
        job = {"module": command[2], "args": command[3:], "cwd": str(folder),
               "stderr": str(folder / "log.txt"), "env": env}
        try:
            assert ready.stdin is not None
            ready.stdin.write(json.dumps(job) + "\n")
            ready.stdin.close()
        except (OSError, ValueError):  # it died meanwhile: start the job the usual way
            _signal_group(ready.pid, signal.SIGKILL)
            return None
        return ready

    def start(self, job: Job, reservation: Reservation) -> Handle:
        """Launch the worker and a watcher for it; raises OSError if it cannot start. A
        training job is handed to the prestarted worker when one is waiting."""
        folder = self.store.job_dir(job.id)
        command = self.command(job, reservation)
        gpus = self.gpu_names(reservation.gpus)
        proc = None
        if kinds.get(job.kind).distributed:
            proc = self._hand_over(command, folder, {
                "CUDA_VISIBLE_DEVICES": gpus, "DIGITSX_JOB_ID": job.id,
                "DIGITSX_DEVICE": reservation.device})
        if proc is None:
            with open(folder / "log.txt", "ab") as stderr:
                proc = launch.launch(command, self.store.jobs_dir, gpus=gpus, cwd=folder, nice=self.nice,
                                     stderr=stderr, DIGITSX_JOB_ID=job.id,
                                     DIGITSX_DEVICE=reservation.device)
        handle = Handle(job.id, proc, folder)
        self.handles[job.id] = handle
        self.store.update(job.id, "attribute", pid=proc.pid)
        self.spawn(self._watch, handle)
        return handle

    def abort(self, job_id: str, ending: tuple | None = None) -> bool:
        """SIGTERM the worker's process group, SIGKILL after the grace period; False if not ours.
        ``ending``: the (status, note) it ends with, instead of Aborted."""
        handle = self.handles.get(job_id)
        if handle is None:
            return False
        handle.aborting, handle.ending = True, ending
        _signal_group(handle.proc.pid, signal.SIGTERM)
        self.spawn(self._kill_later, handle)
        return True

    def pids(self) -> dict[str, int]:
        """Worker pid of every running job."""
        return {job_id: h.proc.pid for job_id, h in self.handles.items()}

    def _kill_later(self, handle: Handle) -> None:
        deadline = time.time() + self.grace
        while handle.proc.poll() is None and time.time() < deadline:
            self.sleep(0.1)
        if handle.proc.poll() is None:
            log.warning("job %s ignored SIGTERM for %.0fs: SIGKILL", handle.job_id, self.grace)
            _signal_group(handle.proc.pid, signal.SIGKILL)

    def _watch(self, handle: Handle) -> None:
        try:
            with open(handle.folder / "events.jsonl", "a", encoding="utf-8") as events:
                for line in handle.proc.stdout:
                    self._handle_line(handle, line, events)
            returncode = handle.proc.wait()
            _signal_group(handle.proc.pid, signal.SIGKILL)  # children it left behind
            self._finish(handle, returncode)
        except Exception as err:  # a full disk, a bug: never leave the job Running, GPU held
            log.exception("watcher of job %s failed", handle.job_id)
            handle.proc.kill()
            _signal_group(handle.proc.pid, signal.SIGKILL)
            handle.error = handle.error or (
                f"The server's disk is full ({err}); free space and resume the job"
                if storage_full(err) else f"Internal error while watching the worker: {err}")
            self._finish_for_sure(handle, handle.proc.wait())
        finally:
            self.handles.pop(handle.job_id, None)
            # The prestarted worker first, then the scheduler's tick: a job waiting behind this
            # one is handed to it (still importing is fine: the job starts where it is), not
            # started cold beside an idle worker that competes with it for the cores.
            self.prestart_if_idle()
            self.on_exit(handle.job_id)

    def _handle_line(self, handle: Handle, line: str, events) -> None:
        if not line.strip():
            return
        try:
            event = protocol.decode(line)
        except protocol.ProtocolError:
            with open(handle.folder / "log.txt", "a", encoding="utf-8") as logfile:
                logfile.write(line if line.endswith("\n") else line + "\n")  # a stray print()
            return
        events.write(line if line.endswith("\n") else line + "\n")
        events.flush()
        getattr(self, f"_on_{event['event']}")(handle, event)

    def _on_progress(self, handle: Handle, event: dict) -> None:
        total = float(event.get("total") or 0)
        fraction = min(1.0, max(0.0, float(event.get("done", 0)) / total)) if total > 0 else 0.0
        now = time.time()
        if now - handle.last_progress >= PROGRESS_INTERVAL or fraction >= 1.0:
            handle.last_progress = now
            self.store.update(handle.job_id, "progress", progress=fraction)

    def _on_metric(self, handle: Handle, event: dict) -> None:
        phase, values = str(event.get("phase", "train")), dict(event.get("values") or {})
        point = self.store.add_metric(handle.job_id, phase, event.get("epoch", 0),
                                      event.get("step", 0), values, event.get("t"))
        self.publish(handle.job_id, "metric", {"job_id": handle.job_id, **point.as_dict()})
        if phase == "val":
            for wake in self.on_validation:  # a study's pruner decides now, not on its next tick
                wake(handle.job_id)
        if handle.summary is None:  # a resumed job goes on from what it had
            handle.summary = dict(self.store.get(handle.job_id).result.get("metric_summary") or {})
        fold_metric(handle.summary, phase, values)
        self._write_summary(handle)

    def _write_summary(self, handle: Handle, force: bool = False) -> None:
        """The home page's metric columns and sparkline, at most every 2 s (and at the end)."""
        now = time.time()
        if handle.summary is not None and (force or now - handle.summary_written >= 2.0):
            handle.summary_written = now
            self.store.merge_result(handle.job_id, {"metric_summary": handle.summary})

    def _on_snapshot(self, handle: Handle, event: dict) -> None:
        snap = {"epoch": event.get("epoch"), "file": event.get("file")}
        kept = [s for s in self.store.get(handle.job_id).result.get("snapshots", [])
                if s.get("epoch") != snap["epoch"]]  # a resumed job may save an epoch again
        self.store.merge_result(handle.job_id, {"snapshots": sorted(
            kept + [snap], key=lambda s: float(s.get("epoch") or 0))})
        self.publish(handle.job_id, "snapshot", {"job_id": handle.job_id, **snap})

    def _on_log(self, handle: Handle, event: dict) -> None:
        message = f"[{event.get('level', 'info')}] {event.get('message', '')}"
        with open(handle.folder / "log.txt", "a", encoding="utf-8") as logfile:
            logfile.write(message + "\n")
        self.publish(handle.job_id, "log", {"job_id": handle.job_id, "line": message})

    def _on_result(self, handle: Handle, event: dict) -> None:
        self.store.merge_result(handle.job_id, dict(event.get("data") or {}))

    def _on_rewind(self, handle: Handle, event: dict) -> None:
        epoch = float(event.get("epoch", 0))
        self.store.delete_metrics_after(handle.job_id, epoch)
        handle.summary = metric_summary(self.store.metrics(handle.job_id))
        self._write_summary(handle, force=True)
        self.publish(handle.job_id, "rewind", {"job_id": handle.job_id, "epoch": epoch})

    def _on_error(self, handle: Handle, event: dict) -> None:
        handle.error = f"{event.get('type', 'Error')}: {event.get('message', '')}"

    def _finish_for_sure(self, handle: Handle, returncode: int) -> None:
        """Write the final status, retrying while the database cannot be written (a full
        disk frees up; until then the job keeps its handle, so abort and delete still work)."""
        delay = 0.5
        while True:
            try:
                self._finish(handle, returncode)
                return
            except Exception:
                log.exception("could not record the end of job %s; retrying in %.0fs",
                              handle.job_id, delay)
                self.sleep(delay)
                delay = min(30.0, delay * 2)

    def _finish(self, handle: Handle, returncode: int) -> None:
        """The final status; first a worker's ``scratch/`` (unpacked uploads...) goes."""
        shutil.rmtree(handle.folder / SCRATCH, ignore_errors=True)
        self.store.reconcile_snapshots(handle.job_id)
        self._write_summary(handle, force=True)
        if handle.aborting:
            status, note = handle.ending or (Status.ABORTED, "aborted by user")
            self.store.set_status(handle.job_id, status, note, pid=None)
        elif returncode == 0 and handle.error is None:
            note = stopped_note(self.store.get(handle.job_id).result)
            self.store.set_status(handle.job_id, Status.DONE, note, progress=1.0, pid=None)
        else:
            message = handle.error or _exit_message(returncode)
            self.store.set_status(handle.job_id, Status.ERROR, message, error=message, pid=None)


def _exit_message(returncode: int) -> str:
    """Why a worker that reported no error failed."""
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"The worker was killed by {name}{hint}; see the log below."
    return f"The worker exited with code {returncode}; see the log below."


def _signal_group(pid: int, sig: int) -> None:
    """Signal the process group a worker leads; quiet if it is already gone."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 40) -> list[str]:
    """The last ``lines`` lines of a text file (empty if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * lines))
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return data.splitlines()[-lines:]


def kill_orphans(jobs_dir: Path, grace: float = 2.0) -> list[int]:
    """Stop processes left by a server that died: every process (a worker, its DataLoader
    children, anything they started) whose environment names this jobs folder."""
    mine = str(Path(jobs_dir).resolve())
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get("DIGITSX_WORKER_OF") == mine:
                found.append(proc)
        except psutil.Error:  # gone, or another user's process
            continue
    for proc in found:
        _signal(proc, signal.SIGTERM)
    _, alive = psutil.wait_procs(found, timeout=grace)
    for proc in alive:
        _signal(proc, signal.SIGKILL)
    if found:
        log.warning("stopped %d orphaned worker process(es): %s", len(found), [p.pid for p in found])
    return [p.pid for p in found]


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def read_events(folder: Path) -> list[dict[str, Any]]:
    """The events a job's workers emitted, from ``events.jsonl`` (skipping a torn last line)."""
    out = []
    try:
        with open(folder / "events.jsonl", encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return out
