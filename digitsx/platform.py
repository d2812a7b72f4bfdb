"""The pieces the web process owns, wired together: store, pool, runner, scheduler, telemetry."""
from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .events import Events
from .extensions import db, socketio
from .gpu.devices import discover
from .gpu.fake import FakeNvml
from .gpu.history import History
from .gpu.nvml import Nvml
from .gpu.telemetry import Telemetry
from .jobs.lock import FolderLock
from .jobs.resources import ResourcePool
from .jobs.runner import Runner
from .jobs.scheduler import Scheduler
from .jobs.store import JobStore
from .jobs.summary import summarize


class Platform:
    """Everything with state in the web process; one per app, in ``app.extensions['digitsx']``."""

    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.events = Events(socketio, self.job_json, self._page)
        self.app = app
        self.store = JobStore(db, cfg["JOBS_DIR"], self.events.job_changed)
        self.nvml: Any = self._nvml(cfg)
        fake = isinstance(self.nvml, FakeNvml)
        self.devices = discover(self.nvml, cfg.get("GPUS"),
                                None if fake else os.environ.get("CUDA_VISIBLE_DEVICES"))
        self.pool = ResourcePool(tuple(d["index"] for d in self.devices),
                                 int(cfg["CPU_SLOTS"]), int(cfg["CPU_TRAIN_SLOTS"]))
        cfg["GPU_INDEXES"] = tuple(self.pool.gpus)  # forms refuse a GPU the host lacks
        uuids = {d["index"]: d["uuid"] for d in self.devices}
        self.runner = Runner(self.store, self.events.task, socketio.start_background_task,
                             socketio.sleep, self._on_exit, float(cfg["ABORT_GRACE_SECONDS"]),
                             lambda ids: ",".join(uuids.get(i, str(i)) for i in ids),
                             prestart=bool(cfg.get("PRESTART_WORKER")),
                             nice=int(cfg.get("WORKER_NICE") or 0))
        self.scheduler = Scheduler(self.store, self.pool, self.runner,
                                   socketio.start_background_task)
        if cfg.get("SLURM_PARTITIONS"):
            from .jobs.executors import SlurmExecutor

            self.scheduler.cluster = SlurmExecutor(
                self.runner, self.store, socketio.start_background_task, socketio.sleep,
                self._on_exit, str(cfg.get("SLURM_PRELUDE") or ""))
        self.history = History(self.store.job_dir, self._gpus_of,
                               float(cfg.get("TELEMETRY_HISTORY_INTERVAL") or 5.0))
        self.telemetry = Telemetry(self.nvml, list(self.pool.gpus), self.runner.pids,
                                   self._on_telemetry, socketio.sleep,
                                   float(cfg["TELEMETRY_INTERVAL"]))
        self.events.server_state = self.gpu_state
        from collections import deque

        self.gpu_history: deque = deque(maxlen=600)  # the system page's utilisation history
        from .jobs.serving import WarmPool

        self.serving = WarmPool(self.store, self.scheduler,
                                lambda ids: ",".join(uuids.get(i, str(i)) for i in ids),
                                socketio.sleep, float(cfg.get("SERVING_IDLE_SECONDS", 300)))
        self.scheduler.reclaim_gpus = self.serving.yield_gpus
        from .models.exports import Exports

        self.exports = Exports(self.store.jobs_dir, socketio.start_background_task,
                               lambda: float(cfg.get("EXPORT_TIMEOUT", 1800)),
                               int(cfg.get("WORKER_NICE") or 0),
                               (self.scheduler.reserve_cpu_slot, self.scheduler.release),
                               (int(cfg.get("EXPORT_LIMIT") or 4), int(cfg.get("EXPORT_USER_LIMIT") or 2)),
                               socketio.sleep)
        from .search import STUDY
        from .search.manager import Studies

        self.studies = Studies(app, self.store, self.scheduler, str(cfg["DATABASE_URL"]), socketio.sleep)
        self.scheduler.managers[STUDY] = self.studies
        self.runner.on_validation.append(self.studies.wake)
        self.started = False
        self.lock = FolderLock(cfg["JOBS_DIR"], db.engine)

    def _nvml(self, cfg: Any) -> Any:
        if int(cfg.get("FAKE_GPUS") or 0) > 0:
            return FakeNvml(int(cfg["FAKE_GPUS"]), lambda i: i in self.pool.busy_gpus())
        return Nvml()

    def _gpus_of(self, job_id: str) -> tuple[int, ...]:
        held = self.pool.holders.get(job_id)
        return tuple(held.gpus) if held else ()

    def _on_telemetry(self, sample: dict[str, Any]) -> None:
        self.events.telemetry(sample)
        self.history.record(sample)
        self.gpu_history.append({"time": sample.get("time"), "gpus": [
            {k: g.get(k) for k in ("index", "utilization", "memory_used", "memory_total")}
            for g in sample.get("gpus") or []]})

    def _on_exit(self, job_id: str) -> None:
        self.scheduler.on_exit(job_id)
        self.events.server_changed()

    def start(self) -> None:
        """Recover from a previous run, then start the scheduler and telemetry loops."""
        if self.started:
            return
        self.lock.acquire()  # before recovery: it must never touch a live server's jobs
        self.started = True
        self.scheduler.recover()  # stops orphans: before the prestarted worker starts
        self.scheduler.tick()
        self.runner.prestart_if_idle()
        self.scheduler.start()
        socketio.start_background_task(self.telemetry.run)
        socketio.start_background_task(self.serving.reap_forever)
        socketio.start_background_task(self.studies.run)

    def stop(self) -> None:
        """Stop the loops (running workers are left to finish or be aborted)."""
        self.scheduler.stop()
        self.studies.stop()
        if self.scheduler.cluster is not None:
            self.scheduler.cluster.stop()
        self.runner.close_prestarted()
        self.telemetry.stop()
        self.serving.stop()
        self.lock.release()

    def _page(self, job: Any) -> dict[str, Any]:
        """A job's page JSON, for the push to its page (from any greenlet)."""
        from .jobs.routes import job_details

        with self.app.app_context():
            return job_details(job)

    def job_json(self, job: Any) -> dict[str, Any]:
        """A job's JSON with its place in the queue."""
        return summarize(job, self.scheduler.waiting.get(job.id))

    def gpu_state(self) -> dict[str, Any]:
        """GPUs available, the devices and the GPU panel."""
        panel = self.scheduler.gpu_panel()
        return {"gpus_total": len(self.pool.gpus), "gpus_available": len(self.pool.free_gpus()),
                "devices": self.devices, "panel": panel,
                "cpu_training": not self.pool.gpus}
