"""GPU and worker-process telemetry, sampled about once a second while jobs run."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import psutil

log = logging.getLogger(__name__)


class Telemetry:
    """Samples every device and every running worker; hands each sample to ``publish``."""

    def __init__(self, nvml: Any, gpus: list[int], pids: Callable[[], dict[str, int]],
                 publish: Callable[[dict[str, Any]], None], sleep: Callable[[float], Any],
                 interval: float = 1.0) -> None:
        self.nvml, self.gpus, self.pids = nvml, gpus, pids
        self.publish, self.sleep, self.interval = publish, sleep, interval
        self.last: dict[str, Any] = {"time": None, "gpus": [], "jobs": {}}
        self._procs: dict[int, psutil.Process] = {}
        self._stopped = False

    def sample(self) -> dict[str, Any]:
        """One sample: per GPU utilization, memory, temperature, power; per job CPU % and RSS."""
        gpus = []
        for index in self.gpus:
            try:
                gpus.append(self.nvml.sample(index))
            except Exception as err:
                gpus.append({"index": index, "error": str(err)})
        seen: set[int] = set()
        jobs = {job_id: self._process_stats(pid, seen) for job_id, pid in self.pids().items()}
        # Keep the handle of every process still there, children (DataLoader workers)
        # included: psutil's cpu_percent is 0.0 on a handle's first call.
        self._procs = {pid: p for pid, p in self._procs.items() if pid in seen}
        self.last = {"time": time.time(), "gpus": gpus, "jobs": jobs}
        return self.last

    def _process_stats(self, pid: int, seen: set[int]) -> dict[str, Any]:
        """CPU % (100 = one core) and resident memory of a worker and its children."""
        try:
            root = self._procs.get(pid) or self._procs.setdefault(pid, psutil.Process(pid))
            procs = [root] + root.children(recursive=True)
            cpu = rss = 0.0
            for proc in procs:
                seen.add(proc.pid)
                try:
                    cached = self._procs.setdefault(proc.pid, proc)
                    cpu += cached.cpu_percent(None)
                    rss += cached.memory_info().rss
                except psutil.Error:
                    continue
            return {"pid": pid, "cpu_percent": round(cpu, 1), "rss": int(rss),
                    "processes": len(procs)}
        except psutil.Error:
            return {"pid": pid, "cpu_percent": None, "rss": None, "processes": 0}

    def run(self) -> None:
        """The loop: sample and publish while jobs run, check again every interval."""
        while not self._stopped:
            try:
                if self.pids():
                    self.publish(self.sample())
            except Exception:
                log.exception("telemetry sample failed")
            self.sleep(self.interval)

    def stop(self) -> None:
        """End :meth:`run`."""
        self._stopped = True
