"""The scheduler: one loop that moves queued jobs to Running when their resources are free.

``tick()`` is public and synchronous (tests call it directly, with fake GPUs and a fake runner);
``start()`` runs it in the background, waking at once on submit/abort/exit and at least every
second. Queue order: higher ``priority`` first; among equal priority, users take turns (the
k-th waiting job of each user before anyone's k+1-th: fair share), then submission order. A job
that must wait keeps the GPUs it needs from later jobs, so a big request is never starved by
small ones behind it. A waiting high-priority job may preempt a running job of lower priority
that allows it
(``preemptible``): that one snapshots (a preemptible job snapshots every epoch), waits, and
resumes from its snapshot.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Callable

from ..db import Job
from ..errors import Conflict, DigitsxError, SchedulingError
from . import kinds, queue
from .resources import Request, ResourcePool
from .runner import kill_orphans
from .status import FINISHED, Status
from .summary import PRIORITY_NAMES
from .store import JobStore

log = logging.getLogger(__name__)
QUEUED = (Status.INITIALIZED.value, Status.WAITING.value)


class Scheduler:
    """Owns the resource pool and decides what runs; the runner does the running."""

    def __init__(self, store: JobStore, pool: ResourcePool, runner: Any,
                 spawn: Callable[..., Any] | None = None) -> None:
        self.store, self.pool, self.runner = store, pool, runner
        self.spawn = spawn
        self.waiting: dict[str, dict[str, Any]] = {}  # job id → why it waits, its queue place
        self._lock = threading.RLock()
        # Set by the platform: close warm inference workers that hold GPUs a queued job wants.
        self.reclaim_gpus: Callable[[], Any] | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._batches = 0  # > 0: a bulk action is under way; ticks wait for its end
        self.cluster: Any = None  # the Slurm executor (jobs.executors), when a cluster is set up
        self.managers: dict[str, Any] = {}  # managed kind → what aborts it (the studies)
        self.last_start: dict[str, float] = {}  # user → when a job of theirs last started
        self.preempting: dict[str, str] = {}  # running job id → the waiting job it makes way for

    # -- the loop -------------------------------------------------------------------------
    def start(self) -> None:
        """Run ``tick()`` in the background until :meth:`stop`."""
        assert self.spawn is not None
        self.spawn(self._loop)

    def stop(self) -> None:
        """End the background loop."""
        self._stopped.set()
        self._wake.set()

    def wake(self) -> None:
        """Ask for a tick now (after a submit, an abort or a worker exit)."""
        self._wake.set()

    @contextlib.contextmanager
    def batch(self):
        """A bulk action (deleting or aborting hundreds of jobs): no tick until it ends, then
        one. A tick per job renumbered and notified every waiting job each time: quadratic."""
        self._batches += 1
        try:
            yield
        finally:
            self._batches -= 1
            self.wake()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(timeout=1.0)
            if self._batches:  # the batch wakes us when it ends (the event stays set)
                self._stopped.wait(0.05)
                continue
            self._wake.clear()
            try:
                self.tick()
            except Exception:  # one bad tick must not end scheduling for every job
                log.exception("scheduler tick failed")

    def tick(self) -> list[str]:
        """Start every queued job that can start now; return their ids."""
        with self._lock:
            started: list[str] = []
            blocked: set[int] = set()
            waiting: dict[str, dict[str, Any]] = {}
            train_queue = 0
            running = [job.username or "" for job in self.store.db.jobs(Status.RUNNING.value)]
            queued = {job.id: job for job in queue.order(self.store.db.jobs(*QUEUED), running,
                                                         self.last_start)}
            for job in queued.values():
                if _managed(job):  # a study: the web process moves it, not a worker
                    continue
                if job.spec.get("slurm"):  # the cluster's own scheduler decides
                    if self._submit_to_cluster(job):
                        started.append(job.id)
                    continue
                outcome = self._consider(job, frozenset(blocked), train_queue)
                if outcome == "started":
                    started.append(job.id)
                elif isinstance(outcome, dict):
                    waiting[job.id] = outcome
                    blocked |= set(outcome.get("gpus", ()))
                    train_queue += outcome.pop("train_queue", 0)
            _number_queues(waiting)
            previous, self.waiting = self.waiting, waiting
            for job_id, info in waiting.items():
                if previous.get(job_id) != info:  # a new reason or place: tell the pages
                    job = queued[job_id]
                    if job.status == Status.INITIALIZED.value:  # it just became Waiting
                        job = self.store.get(job_id)
                    self.store.notify(job, "queue")
            self._preempt(queued, waiting)
            serving = {g for h, r in self.pool.holders.items() if h.startswith("serve:") for g in r.gpus}
            reclaim = self.reclaim_gpus is not None and \
                any(serving & set(i.get("gpus", ())) for i in waiting.values())
        if reclaim:  # outside the lock: closing a worker takes a moment
            self.reclaim_gpus()
        return started

    # -- preemption -------------------------------------------------------------------------
    def _preempt(self, queued: dict[str, Job], waiting: dict[str, dict[str, Any]]) -> None:
        """For each job waiting for a GPU (or a CPU training slot), highest priority first: stop
        running jobs of lower priority that allow it, enough to free what it asks for. They end
        Waiting ("preempted by ..."), go back to the queue, and resume from their snapshot."""
        self.preempting = {v: w for v, w in self.preempting.items() if v in self.pool.holders}
        if not waiting or not hasattr(self.runner, "handles"):
            return
        making_way = set(self.preempting.values())
        for job_id, info in waiting.items():
            job = queued[job_id]
            if job_id in making_way or "parent" in info or "gpus" not in info or (job.priority or 0) < 1:
                continue  # only a high-priority job preempts
            victims = queue.victims(job, info, self.pool, self.runner.handles, self.preempting, self.store.db)
            for victim in victims:
                note = (f"preempted by {job.name} ({job.id}, {job.username or 'anonymous'}, "
                        f"priority {PRIORITY_NAMES[job.priority or 0]}): resumes from its snapshot")
                if self.runner.abort(victim.id, ending=(Status.WAITING, note)):
                    self.preempting[victim.id] = job_id
                    log.info("job %s preempted by %s", victim.id, job_id)
            if victims:
                return  # one at a time: the next tick sees what was freed

    def set_priority(self, job_id: str, priority: int) -> Job:
        """A waiting job's new priority (-1 low, 0 normal, 1 high): its place in the queue."""
        with self._lock:
            job = self.store.get(job_id)
            if job.status not in QUEUED:
                raise Conflict(f"Only a waiting job changes its priority (status {job.status})")
            job = self.store.update(job_id, "queue", priority=max(-1, min(1, int(priority))))
        self.wake()
        return job

    # -- one job --------------------------------------------------------------------------
    def _consider(self, job: Job, blocked: frozenset[int], train_queue: int) -> Any:
        parent_wait = self._parent_check(job)
        if parent_wait is not None:
            return parent_wait
        try:
            request = kinds.get(job.kind).request(job.spec)
            if request.wants_gpu and not self.pool.gpus and train_queue:
                reservation = None  # FIFO among CPU training jobs too
            else:
                reservation = self.pool.try_reserve(job.id, request, blocked)
        except DigitsxError as err:
            self._fail(job, err.message)
            return None
        if reservation is None:
            return self._wait(job, request)
        try:
            job = self.store.set_status(job.id, Status.RUNNING, _device_note(reservation.gpus),
                                        gpus=",".join(map(str, reservation.gpus)), progress=0.0)
            self.runner.start(job, reservation)
            self.last_start[job.username or ""] = time.monotonic()
        except Exception as err:  # the worker could not even start
            log.exception("could not start job %s", job.id)
            self.pool.release(job.id)
            self._fail(job, f"Could not start the worker: {err}")
            return None
        return "started"

    def _submit_to_cluster(self, job: Job) -> bool:
        """``sbatch`` a queued cluster job once (a followed one is Slurm's to start)."""
        if self.cluster is None:
            self._fail(job, "This server has no Slurm cluster configured (DIGITSX_SLURM_PARTITIONS)")
            return False
        if job.id in self.cluster.handles:
            return False
        try:
            self.cluster.start(job)
        except Exception as err:  # Slurm refused or cannot be reached
            log.warning("could not submit job %s to Slurm: %s", job.id, err)
            self._fail(job, f"Could not submit the job to Slurm: {err}")
            return False
        return True

    def _parent_check(self, job: Job) -> dict[str, Any] | None:
        if not job.parent_id:
            return None
        parent = self.store.db.get(job.parent_id)
        if parent is None:
            self._fail(job, f"Parent job {job.parent_id} no longer exists")
            return "failed"
        if parent.status == Status.DONE.value:
            return None
        if parent.status in {s.value for s in FINISHED}:
            why = f": {parent.error}" if parent.error else ""
            self._fail(job, f"Parent job {parent.name} ({parent.id}) ended with status "
                            f"{parent.status}{why}")
            return "failed"
        info = {"reason": f"Waiting for job {parent.name} ({parent.id}) to finish",
                "parent": parent.id}
        self._mark_waiting(job, info["reason"])
        return info

    def _wait(self, job: Job, request: Request) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if request.wants_gpu and self.pool.gpus:
            wanted = list(request.gpu_ids) or list(self.pool.gpus)
            label = (f"GPU {', '.join(map(str, request.gpu_ids))}" if request.gpu_ids
                     else f"{request.gpu_count} free GPU{'s' if request.gpu_count > 1 else ''}")
            info = {"reason": f"Waiting for {label}", "gpus": wanted}
        elif request.wants_gpu:
            info = {"reason": "Waiting for a CPU training slot (this host has no GPU)",
                    "train_queue": 1, "gpus": [], "queue": "cpu-train"}
        else:
            info = {"reason": f"Waiting for {request.cpu} CPU slot(s)", "gpus": [], "queue": "cpu"}
        self._mark_waiting(job, info["reason"])
        return info

    def _mark_waiting(self, job: Job, reason: str) -> None:
        if job.status == Status.INITIALIZED.value:
            self.waiting[job.id] = {"reason": reason}  # the status event carries the reason
            self.store.set_status(job.id, Status.WAITING, reason)

    def _fail(self, job: Job, message: str) -> None:
        self.store.set_status(job.id, Status.ERROR, message, error=message)

    # -- requests from the web --------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Queue a created job (it stays Initialized until the next tick)."""
        self.wake()
        return job

    def abort(self, job_id: str, ending: tuple | None = None) -> Job:
        """Abort a queued or running job; Conflict if it has already finished. ``ending``: the
        (status, note) a running job ends with instead of Aborted (a pruned trial)."""
        with self._lock:
            job = self.store.get(job_id)
            if _managed(job) and self.managers.get(job.kind) is not None:
                return self.managers[job.kind].abort(job)
            how = {"ending": ending} if ending else {}
            if self.cluster is not None and self.cluster.abort(job_id, **how):
                return job  # Slurm cancels it; the follower records Aborted
            if job.status in QUEUED:
                self.waiting.pop(job_id, None)
                job = self.store.set_status(job_id, Status.ABORTED, "aborted before it ran")
                self.wake()
                return job
            if job.status == Status.RUNNING.value and self.runner.abort(job_id, **how):
                return job
            gone = job_id not in getattr(self.runner, "handles", {job_id: None})
            if gone and self.store.get(job_id).status == Status.RUNNING.value:
                # Running on record, but no worker (its watcher pops it only after writing
                # the end, so this one could not): record the end now
                self.pool.release(job_id)
                job = self.store.set_status(job_id, Status.ABORTED, "aborted (its worker was "
                                                                    "already gone)", pid=None)
                self.wake()
                return job
            raise Conflict(f"Job {job.name} ({job_id}) is not running (status {job.status})")

    def resume(self, job_id: str) -> Job:
        """Queue an Aborted, Error or Interrupted job of a resumable kind again."""
        job = self.store.get(job_id)
        if not kinds.get(job.kind).resumable:
            raise Conflict(f"A {kinds.get(job.kind).title} job cannot be resumed")
        if job.status not in (Status.ABORTED.value, Status.ERROR.value, Status.INTERRUPTED.value,
                              Status.PRUNED.value):
            raise Conflict(f"Only aborted, failed or interrupted jobs resume (status {job.status})")
        self.store.reconcile_snapshots(job_id)
        job = self.store.set_status(job_id, Status.INITIALIZED, "resumed")
        self.wake()
        return job

    def on_exit(self, job_id: str) -> None:
        """The runner's callback when a worker has ended: free its slot, schedule the next."""
        with self._lock:
            self.pool.release(job_id)
        self.wake()

    def recover(self, grace: float = 2.0) -> list[str]:
        """At start-up: jobs left Running or queued become Interrupted; orphans are stopped."""
        lost = []
        for job in self.store.db.jobs(*QUEUED, Status.RUNNING.value):
            if _managed(job):  # a study goes on: its manager follows its trials again
                continue
            if job.spec.get("slurm") and self.cluster is not None and self.cluster.adopt(job):
                continue  # still Slurm's: followed again from where the server stopped
            note = f"the server restarted while the job was {job.status}"
            self.store.set_status(job.id, Status.INTERRUPTED, note, pid=None,
                                  error=f"Interrupted: {note}")
            lost.append(job.id)
        kill_orphans(self.store.jobs_dir, grace)
        for job_id in lost:  # after the orphans (and their snapshot writers) are gone
            dropped = self.store.drop_unrecorded_snapshots(job_id)
            if dropped:
                log.warning("job %s: %s past its last stored validation removed: it resumes from the "
                            "last epoch its record covers", job_id, ", ".join(dropped))
            self.store.reconcile_snapshots(job_id)
        return lost

    def reserve_spare_gpu(self, holder: str) -> tuple[int, ...]:
        """A GPU for something that is not a job (a warm inference worker), if one is free and
        no job waits for a GPU (jobs come first); () otherwise. :meth:`release` gives it back."""
        if not self.pool.gpus or any(info.get("gpus") for info in self.waiting.values()):
            return ()
        with self._lock:
            reservation = self.pool.try_reserve(holder, Request(gpu_count=1))
        return reservation.gpus if reservation else ()

    def reserve_cpu_slot(self, holder: str) -> bool:
        """A CPU slot for work that is not a job (an export), if one is free and no queued job
        waits for one (jobs first); :meth:`release` gives it back."""
        if any(info.get("queue") == "cpu" for info in self.waiting.values()):
            return False
        with self._lock:
            return self.pool.try_reserve(holder, Request(cpu=1)) is not None

    def release(self, holder: str) -> None:
        """Give back what :meth:`reserve_spare_gpu` reserved, and let waiting jobs have it."""
        with self._lock:
            self.pool.release(holder)
        self.wake()

    def gpu_panel(self) -> list[dict[str, Any]]:
        """Per GPU: which job holds it, and the queue behind it (ids in order)."""
        holders = {g: job_id for job_id, r in self.pool.holders.items() for g in r.gpus}
        return [{"index": g, "job_id": holders.get(g),
                 "queue": [job_id for job_id, info in self.waiting.items()
                           if g in info.get("gpus", ())]}
                for g in self.pool.gpus]


def _managed(job: Job) -> bool:
    try:
        return kinds.get(job.kind).managed
    except DigitsxError:
        return False


def _number_queues(waiting: dict[str, dict[str, Any]]) -> None:
    """Give each waiting job its 1-based place in the queue of what it waits for (FIFO order)."""
    seen: list[dict[str, Any]] = []
    for info in waiting.values():
        if "parent" in info:
            continue
        if info.get("gpus"):
            info["position"] = 1 + sum(1 for o in seen if set(o.get("gpus", ())) & set(info["gpus"]))
        else:
            info["position"] = 1 + sum(1 for o in seen if o.get("queue") == info.get("queue"))
        seen.append(info)


def _device_note(gpus: tuple[int, ...]) -> str:
    return f"on GPU {', '.join(map(str, gpus))}" if gpus else "on the CPU"


__all__ = ["Scheduler", "SchedulingError"]
