"""A job's utilisation over its whole run: a down-sampled series in ``<job>/telemetry.jsonl``.

Every ``interval`` seconds a running job gets one point: its processes' CPU % and RSS and, for
each GPU it holds, utilisation and memory. The file stays bounded: past ``max_points`` it is
rewritten with every other point and the job's interval doubles, so a week-long run keeps its
shape in a few hundred lines.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)
FILE = "telemetry.jsonl"


class History:
    def __init__(self, job_dir: Callable[[str], Path], gpus_of: Callable[[str], tuple[int, ...]],
                 interval: float = 5.0, max_points: int = 720) -> None:
        self.job_dir, self.gpus_of = job_dir, gpus_of
        self.interval, self.max_points = interval, max_points
        self._jobs: dict[str, dict[str, float]] = {}  # job id → {"last", "every", "count"}

    def record(self, sample: dict[str, Any], now: float | None = None) -> None:
        """Keep one point per job of ``sample`` when its interval has passed."""
        now = time.time() if now is None else now
        gpus = {g.get("index"): g for g in sample.get("gpus", [])}
        for job_id, stats in sample.get("jobs", {}).items():
            if stats.get("rss") is None:  # the process ended between listing and sampling
                continue
            state = self._jobs.setdefault(job_id, {"last": 0.0, "every": self.interval,
                                                   "count": self._count(job_id)})
            if now - state["last"] < state["every"]:
                continue
            state["last"] = now
            point = {"t": round(now, 1), "cpu": stats.get("cpu_percent"), "rss": stats.get("rss"),
                     "gpus": [{"index": i, "util": gpus[i].get("utilization"),
                               "mem": gpus[i].get("memory_used")}
                              for i in self.gpus_of(job_id) if i in gpus]}
            try:
                self._append(job_id, point, state)
            except OSError as err:  # a full disk must not stop telemetry for everyone
                log.warning("telemetry history of %s not written: %s", job_id, err)
        for job_id in [j for j in self._jobs if j not in sample.get("jobs", {})]:
            del self._jobs[job_id]  # ended (a resumed job starts counting again from its file)

    def _count(self, job_id: str) -> int:
        try:
            with open(self.job_dir(job_id) / FILE, "rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def _append(self, job_id: str, point: dict, state: dict[str, float]) -> None:
        path = self.job_dir(job_id) / FILE
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(point, separators=(",", ":")) + "\n")
        state["count"] += 1
        if state["count"] > self.max_points:
            kept = read(path)[::2]
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(p, separators=(",", ":")) + "\n" for p in kept))
            os.replace(tmp, path)
            state["count"], state["every"] = len(kept), state["every"] * 2


def read(path: Path) -> list[dict]:
    """The points of a ``telemetry.jsonl`` (a torn last line is skipped)."""
    points = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    points.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        return []
    return points
