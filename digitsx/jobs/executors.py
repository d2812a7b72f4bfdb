"""Where a job's worker runs. Every executor answers the same four calls — **start** a job,
**poll** what it is doing, **abort** it, **adopt** it again after the server restarts — and
feeds the worker's protocol lines to the runner's event handlers, so metrics, logs, snapshots
and the final status are the same wherever it ran.

- **local** is :class:`~digitsx.jobs.runner.Runner`: a child process of this server, its stdout
  a pipe, its slot in this host's pool (a job left running by a dead server is Interrupted).
- **slurm** (:class:`SlurmExecutor`) hands the job to a cluster's own scheduler: ``sbatch`` of a
  generated script (:mod:`.slurm`), rank 0's protocol lines in ``slurm-<id>.out`` in the job
  folder (on the file system every node mounts), followed by offset; Slurm's state of every
  followed job read in one ``squeue`` per tick. A restarted server adopts its cluster jobs and
  goes on from the offset it stored: no event is lost or read twice.

A Kubernetes executor would be one more class here: see ``docs/executors.md``.
"""
from __future__ import annotations

import json
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ServiceUnavailable
from . import kinds, slurm
from .status import Status
from ..engine.watch import stopped_note

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0

# Slurm state → (our status, what the timeline says)
ENDED = {"COMPLETED": Status.DONE, "CANCELLED": Status.ABORTED, "FAILED": Status.ERROR,
         "TIMEOUT": Status.ERROR, "NODE_FAIL": Status.ERROR, "OUT_OF_MEMORY": Status.ERROR,
         "BOOT_FAIL": Status.ERROR, "DEADLINE": Status.ERROR, "PREEMPTED": Status.ERROR,
         "REVOKED": Status.ERROR, "SPECIAL_EXIT": Status.ERROR}
WHY = {"TIMEOUT": "time limit: Slurm stopped the job at its time limit (snapshots are kept: resume it "
                  "with a longer time limit)",
       "NODE_FAIL": "node failure", "OUT_OF_MEMORY": "out of memory on a node",
       "BOOT_FAIL": "a node failed to boot", "DEADLINE": "deadline passed", "PREEMPTED": "preempted"}


READ_CAP = 1 << 20  # bytes of a job's output (or a node's telemetry) read in one look
MAX_NODES = 256


def read_new(path: Path, offset: int, cap: int = READ_CAP) -> bytes:
    """What a file in a job folder holds past ``offset``, at most ``cap`` bytes; the file is
    never followed through a link (a job's code writes that folder and may plant one to a file
    outside it): nothing when it is one, or missing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # missing, or a link (ELOOP)
        return b""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return b""
        f.seek(offset)
        return f.read(cap)


@dataclass
class ClusterHandle:
    """A followed cluster job: what the runner's event handlers need, plus Slurm's side."""

    job_id: str
    folder: Path
    slurm_id: str
    offset: int = 0
    aborting: bool = False
    ending: tuple | None = None  # (status, note) the abort ends with instead of Aborted: Pruned
    error: str | None = None
    last_progress: float = 0.0
    summary: dict | None = None
    summary_written: float = 0.0
    state: str = "PENDING"
    reason: str = ""
    nodes: str = ""
    restarts: int = 0
    missing_since: float | None = None
    node_offsets: dict = field(default_factory=dict)  # nodes/<node>.jsonl → bytes read
    adopted: bool = False  # followed again after a restart: node points already kept are skipped
    started: float = field(default_factory=time.time)

    @property
    def output(self) -> Path:
        return self.folder / f"slurm-{self.slurm_id}.out"


class SlurmExecutor:
    """Runs jobs with a ``slurm`` part in their spec on the cluster."""

    def __init__(self, runner, store, spawn: Callable[..., Any], sleep: Callable[[float], Any],
                 on_exit: Callable[[str], None], prelude: str = "", grace: float = 10.0) -> None:
        self.runner, self.store = runner, store
        self.spawn, self.sleep, self.on_exit = spawn, sleep, on_exit
        self.prelude, self.grace = prelude, grace
        self.handles: dict[str, ClusterHandle] = {}
        self.running = False
        self.reachable = True

    # -- the four calls ----------------------------------------------------------------------
    def start(self, job) -> ClusterHandle:
        """Write the batch script and ``sbatch`` it; SlurmError if Slurm refuses."""
        folder = Path(self.store.job_dir(job.id))
        spec = job.spec["slurm"]
        script = folder / "slurm-job.sh"
        kind = kinds.get(job.kind)
        script.write_text(slurm.batch_script(job.id, folder, kind.worker, spec, self.prelude, kind.distributed))
        slurm_id = slurm.submit(script)
        handle = ClusterHandle(job.id, folder, slurm_id)
        self._save(handle)
        self.handles[job.id] = handle
        self.store.merge_result(job.id, {"slurm": {"job_id": slurm_id, "state": "PENDING", "script": script.name}})
        self.store.set_status(job.id, Status.WAITING, f"submitted to Slurm: job {slurm_id} "
                                                      f"on {spec['partition']}")
        self.ensure_loop()
        return handle

    def abort(self, job_id: str, ending: tuple | None = None) -> bool:
        """``scancel`` it (TERM, then KILL after Slurm's grace); False if not ours. ``ending``:
        the (status, note) it ends with instead of Aborted."""
        handle = self.handles.get(job_id)
        if handle is None:
            return False
        try:
            slurm.cancel(handle.slurm_id)
        except slurm.SlurmError as err:  # the job goes on: say so, record nothing
            raise ServiceUnavailable(f"Slurm could not cancel job {handle.slurm_id}: {err}") from None
        handle.aborting, handle.ending = True, ending
        self._save(handle)
        return True

    def forget(self, job_id: str) -> None:
        """Stop following a job (it is being deleted, after its ``scancel``)."""
        self.handles.pop(job_id, None)

    def adopt(self, job) -> bool:
        """After a restart: follow a cluster job again from the offset it stored."""
        info = (job.result or {}).get("slurm") or {}
        if not info.get("job_id"):
            return False
        folder = Path(self.store.job_dir(job.id))
        saved = self._load(folder)
        handle = ClusterHandle(job.id, folder, str(info["job_id"]), int(saved.get("offset", 0)),
                               bool(saved.get("aborting")), state=str(info.get("state") or "PENDING"))
        handle.adopted = True
        if saved.get("ending"):
            handle.ending = (Status(saved["ending"][0]), str(saved["ending"][1]))
        self.handles[job.id] = handle
        self.ensure_loop()
        return True

    def poll(self) -> None:
        """One tick: every followed job's Slurm state in one call, new events, final states."""
        if not self.handles:
            return
        try:
            found = slurm.states([h.slurm_id for h in self.handles.values()])
            self.reachable = True
        except slurm.SlurmError as err:
            if self.reachable:
                log.warning("Slurm does not answer (%s): cluster jobs keep their state", err)
            self.reachable = False
            for handle in list(self.handles.values()):
                self._read(handle)  # events still arrive through the shared folder
            return
        for handle in list(self.handles.values()):
            try:
                self._poll_one(handle, found.get(handle.slurm_id))
            except Exception:  # a full disk, a bug: never stop following the others
                log.exception("following cluster job %s failed", handle.job_id)

    # -- following -------------------------------------------------------------------------
    def ensure_loop(self) -> None:
        if not self.running:
            self.running = True
            self.spawn(self._loop)

    def _loop(self) -> None:
        while self.running:
            self.poll()
            self.sleep(POLL_SECONDS)

    def stop(self) -> None:
        self.running = False

    def _poll_one(self, handle: ClusterHandle, state: slurm.State | None) -> None:
        self._read(handle)
        self._read_nodes(handle)
        if state is None:  # gone from squeue: accounting knows, or it is lost
            state = slurm.accounting_state(handle.slurm_id)
            if state is None:
                handle.missing_since = handle.missing_since or time.time()
                if time.time() - handle.missing_since < 30:
                    return
                state = slurm.State(handle.slurm_id, "LOST", "Slurm no longer knows the job "
                                    "(it ended while the server was away, and there is no accounting)")
        handle.missing_since = None
        if state.state != handle.state or state.reason != handle.reason or state.nodes != handle.nodes \
                or state.restarts != handle.restarts:
            self._changed(handle, state)
        if state.state in ENDED or state.state == "LOST":
            self._read(handle)  # the last lines
            self._read_nodes(handle)
            self._finish(handle, state)

    def _changed(self, handle: ClusterHandle, state: slurm.State) -> None:
        requeued = state.restarts > handle.restarts
        handle.state, handle.reason, handle.nodes, handle.restarts = \
            state.state, state.reason, state.nodes, state.restarts
        self.store.merge_result(handle.job_id, {"slurm": state.to_dict() | {"script": "slurm-job.sh"}})
        if state.state == "PENDING":
            why = state.reason if state.reason not in ("", "None") else "queued"
            note = f"Slurm job {state.slurm_id} pending: {why}" + (" (requeued)" if requeued else "")
            self.store.set_status(handle.job_id, Status.WAITING, note)
        elif state.state in ("RUNNING", "COMPLETING", "CONFIGURING") and \
                self.store.get(handle.job_id).status != Status.RUNNING.value:
            self.store.set_status(handle.job_id, Status.RUNNING,
                                  f"Slurm job {state.slurm_id} running on {state.nodes}")

    def _read(self, handle: ClusterHandle) -> None:
        """New whole lines of ``slurm-<id>.out`` → the runner's event handlers; the offset is
        saved after each line, so a restart reads on from exactly there."""
        data = read_new(handle.output, handle.offset)
        if not data:
            return
        if b"\n" not in data and len(data) >= READ_CAP:  # one line longer than any event: skipped
            handle.offset += len(data)
            self._save(handle)
            return
        with open(handle.folder / "events.jsonl", "a", encoding="utf-8") as events:
            for raw in data.split(b"\n")[:-1]:  # the last piece is an unfinished line
                handle.offset += len(raw) + 1
                self.runner._handle_line(handle, raw.decode("utf-8", "replace") + "\n", events)
                self._save(handle)

    def _read_nodes(self, handle: ClusterHandle) -> None:
        """Each node's new telemetry points: into the job's kept series (``telemetry.jsonl``,
        one series per node) and live to its page."""
        folder = handle.folder / "nodes"
        if folder.is_symlink() or not folder.is_dir():  # a job's code may plant links: never followed
            return
        for path in sorted(folder.glob("*.jsonl"))[:MAX_NODES]:
            if path.is_symlink() or not path.is_file():
                continue
            start = handle.node_offsets.get(path.name)
            if start is None:  # adopted after a restart: what is there was already kept
                start = path.stat().st_size if handle.adopted else 0
            data = read_new(path, start)
            lines = data.split(b"\n")[:-1]
            if not lines and len(data) >= READ_CAP:
                handle.node_offsets[path.name] = start + len(data)
                continue
            handle.node_offsets[path.name] = start + sum(len(line) + 1 for line in lines)
            points = []
            for raw in lines:
                try:
                    p = json.loads(raw)
                    points.append({"t": p["t"], "node": str(p["node"])[:64], "cpu": p.get("cpu"),
                                   "rss": p.get("memory_used"),
                                   "gpus": [{"index": g.get("index"), "util": g.get("util"),
                                             "memory_used": g.get("memory_used")} for g in p.get("gpus") or []]})
                except (ValueError, KeyError, TypeError):
                    continue
            if points:
                with open(handle.folder / "telemetry.jsonl", "a", encoding="utf-8") as kept:
                    kept.writelines(json.dumps(p) + "\n" for p in points)
                self.runner.publish(handle.job_id, "telemetry", {"job_id": handle.job_id, "node": points[-1]["node"],
                                                                 "point": points[-1]})

    def _finish(self, handle: ClusterHandle, state: slurm.State) -> None:
        self.handles.pop(handle.job_id, None)
        job_id = handle.job_id
        self.store.reconcile_snapshots(job_id)
        self.runner._write_summary(handle, force=True)
        if handle.aborting or state.state == "CANCELLED":
            who = "aborted by user" if handle.aborting else f"cancelled in Slurm (job {state.slurm_id})"
            status, who = (handle.ending or (Status.ABORTED, who)) if handle.aborting else (Status.ABORTED, who)
            self.store.set_status(job_id, status, who, pid=None)
        elif state.state == "COMPLETED" and handle.error is None:
            if self.store.get(job_id).status == Status.WAITING.value:  # it ran between two looks
                self.store.set_status(job_id, Status.RUNNING, f"Slurm job {state.slurm_id} ran on {state.nodes}")
            early = stopped_note(self.store.get(job_id).result)
            self.store.set_status(job_id, Status.DONE, f"Slurm job {state.slurm_id} completed"
                                  + (f": {early}" if early else ""), progress=1.0)
        else:
            why = WHY.get(state.state, state.state.lower().replace("_", " "))
            where = f" on {state.nodes}" if state.nodes and state.nodes != "None assigned" else ""
            reason = f"; Slurm's reason: {state.reason}" if state.reason not in ("", "None") else ""
            code = f", exit code {state.exit_code}" if state.exit_code else ""
            message = f"Slurm job {state.slurm_id}: {why}{where}{code}{reason}"
            if handle.error and state.state in ("COMPLETED", "FAILED"):
                message = handle.error
            self.store.set_status(job_id, Status.ERROR, message, error=message)
        self.on_exit(job_id)

    # -- the follower's own record (the offset) ------------------------------------------------
    @staticmethod
    def _save(handle: ClusterHandle) -> None:
        path = handle.folder / "slurm-follow.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"slurm_id": handle.slurm_id, "offset": handle.offset,
                                   "aborting": handle.aborting,
                                   "ending": [handle.ending[0].value, handle.ending[1]] if handle.ending else None}))
        os.replace(tmp, path)

    @staticmethod
    def _load(folder: Path) -> dict:
        try:
            return json.loads((folder / "slurm-follow.json").read_text())
        except (OSError, ValueError):
            return {}
