"""Warm serving: one loaded inference worker per (model, snapshot), reused across requests.
The worker module is the model kind's ``serve`` (task-neutral: any task that answers requests).

A worker holds a GPU slot in the scheduler's resource pool while it lives (so training never
lands on the same GPU), or runs on the CPU when no GPU is free; it is reaped after
``idle_timeout`` seconds without a request. Requests to one worker are serialised.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import BadRequest, DigitsxError
from . import kinds, launch, protocol

log = logging.getLogger(__name__)


@dataclass
class WarmWorker:
    """A running warm worker (the kind's ``serve`` module, e.g. ``digitsx.classification.infer``)."""

    key: tuple[str, str]
    proc: subprocess.Popen
    holder: str | None  # its id in the resource pool, when it holds a GPU
    info: dict
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.time)
    next_id: int = 0

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request line, read one answer line; WorkerGone if the worker has stopped."""
        with self.lock:
            self.next_id += 1
            try:
                self.proc.stdin.write(protocol.serve_message("request", id=self.next_id, **request))
                self.proc.stdin.flush()
                line = self.proc.stdout.readline()
            except (OSError, ValueError):  # closed by stop_worker, or the process died
                line = ""
            self.last_used = time.time()
        if not line:
            raise WorkerGone("the inference worker stopped; see infer.log in the model's folder")
        answer = protocol.read_message(line, "answer")
        if answer.get("id") != self.next_id:
            raise WorkerGone(f"the inference worker answered request {answer.get('id')}, "
                             f"not {self.next_id}")
        return {k: v for k, v in answer.items() if k not in ("v", "msg", "id")}


class WorkerGone(DigitsxError):
    """The warm worker stopped (reaped, yielded its GPU, or crashed) before it answered."""


class WarmPool:
    """The warm workers of this server."""

    def __init__(self, store, scheduler, gpu_names: Callable[[tuple[int, ...]], str],
                 sleep: Callable[[float], Any], idle_timeout: float = 300.0) -> None:
        self.store, self.scheduler, self.gpu_names = store, scheduler, gpu_names
        self.sleep, self.idle_timeout = sleep, idle_timeout
        self.workers: dict[tuple[str, str], WarmWorker] = {}
        self._lock = threading.Lock()
        self._stopped = False

    def classify(self, job_id: str, epoch: str, request: dict[str, Any]) -> dict[str, Any]:
        """Classify with the (model, epoch) worker, starting it if needed."""
        worker = self.worker(job_id, epoch)
        try:
            answer = worker.ask(request)
        except WorkerGone:  # stopped between lookup and use, or killed while it worked
            # Under gevent proc.poll() sees the exit only once SIGCHLD is handled, so the pool
            # could hand back the same dead worker: drop it first, then ask a fresh one.
            self.forget(worker)
            answer = self.worker(job_id, epoch).ask(request)
        if "error" in answer:
            raise BadRequest(answer["error"])
        return answer

    def warm(self, job_id: str, epoch: str) -> WarmWorker | None:
        """The running worker for a model snapshot, if there is one (no start, no lookup)."""
        worker = self.workers.get((job_id, epoch))
        return worker if worker is not None and worker.proc.poll() is None else None

    def worker(self, job_id: str, epoch: str) -> WarmWorker:
        """The warm worker for a model snapshot (started on first use)."""
        key = (job_id, epoch)
        with self._lock:
            worker = self.workers.get(key)
            if worker is not None and worker.proc.poll() is None:
                return worker
            worker = self._start(key)
            self.workers[key] = worker
            return worker

    def _start(self, key: tuple[str, str]) -> WarmWorker:
        job_id, epoch = key
        holder = f"serve:{job_id}:{epoch}"
        gpus = self.scheduler.reserve_spare_gpu(holder)
        folder = self.store.job_dir(job_id)
        module = kinds.get(self.store.get(job_id).kind).serve
        if module is None:
            self._release(holder if gpus else None)
            raise BadRequest(f"job {job_id} is not a model that can answer requests")
        with open(folder / "infer.log", "ab") as stderr:
            proc = launch.launch([sys.executable, "-m", module, str(folder), epoch],
                                 self.store.jobs_dir, gpus=self.gpu_names(gpus),
                                 stdin=subprocess.PIPE, stderr=stderr)
        line = proc.stdout.readline()
        try:
            ready = protocol.read_message(line, "ready") if line else \
                {"ok": False, "error": "the worker died while loading; see infer.log"}
        except protocol.ProtocolError as err:
            proc.kill()
            ready = {"ok": False, "error": f"the worker did not start properly: {err}"}
        if not ready.get("ok"):
            proc.wait()
            self._release(holder if gpus else None)
            raise BadRequest(ready.get("error", "the model could not be loaded"))
        log.info("warm worker for %s epoch %s on %s", job_id, ready.get("epoch"), ready.get("device"))
        return WarmWorker(key, proc, holder if gpus else None, ready)

    def _release(self, holder: str | None) -> None:
        if holder:
            self.scheduler.release(holder)

    def stop_worker(self, key: tuple[str, str]) -> None:
        """Close one worker and give back its GPU."""
        worker = self.workers.pop(key, None)
        if worker is None:
            return
        try:
            worker.proc.stdin.close()
            worker.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            worker.proc.kill()
        self._release(worker.holder)

    def forget(self, worker: WarmWorker) -> None:
        """Drop a worker found gone (if the pool still holds it): kill what is left of it and
        give back its GPU, so the next lookup starts a fresh one."""
        with self._lock:
            if self.workers.get(worker.key) is not worker:
                return
            self.workers.pop(worker.key)
        try:
            worker.proc.kill()
            worker.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for pipe in (worker.proc.stdin, worker.proc.stdout):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass
        self._release(worker.holder)

    def yield_gpus(self) -> int:
        """Close the workers that hold a GPU and are not answering a request (a job is waiting
        for a GPU: training and test jobs come before warm serving, which can run on the CPU
        or wait its turn). Returns how many were closed."""
        closed = 0
        for key, worker in list(self.workers.items()):
            if worker.holder and worker.lock.acquire(blocking=False):
                try:
                    log.info("warm worker %s yields its GPU to a waiting job", key)
                    self.stop_worker(key)
                    closed += 1
                finally:
                    worker.lock.release()
        return closed

    def stop_model(self, job_id: str) -> None:
        """Close every worker of a model (it is being deleted)."""
        for key in [k for k in self.workers if k[0] == job_id]:
            self.stop_worker(key)

    def reap_forever(self) -> None:
        """Close workers idle longer than ``idle_timeout``; check every few seconds."""
        while not self._stopped:
            now = time.time()
            for key, worker in list(self.workers.items()):
                if now - worker.last_used > self.idle_timeout and not worker.lock.locked():
                    log.info("reaping idle warm worker %s", key)
                    self.stop_worker(key)
            self.sleep(min(5.0, self.idle_timeout / 2))

    def stop(self) -> None:
        """Close every worker."""
        self._stopped = True
        for key in list(self.workers):
            self.stop_worker(key)
