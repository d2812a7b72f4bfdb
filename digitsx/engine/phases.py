"""Where a training job's time goes: start-up, reading, waiting for data, steps, validation,
snapshots. The trainer adds to a :class:`Phases` and logs one line at the end (``phases: ...``)
and puts the figures in the job's result (``timings``)."""
from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator

ORDER = ("start-up", "reading", "training", "waiting for data", "validation", "snapshots")


def process_age() -> float:
    """Seconds since this process started (its interpreter's start, imports included), or
    since a prestarted worker was handed its job (``DIGITSX_TAKEN_AT``)."""
    taken = os.environ.get("DIGITSX_TAKEN_AT")
    if taken:
        try:
            return max(0.0, time.time() - float(taken))
        except ValueError:
            pass
    try:
        import psutil

        return max(0.0, time.time() - psutil.Process().create_time())
    except Exception:  # noqa: BLE001 - no psutil, or no /proc: unknown
        return 0.0


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def line(self) -> str:
        names = [n for n in ORDER if n in self.seconds] + sorted(set(self.seconds) - set(ORDER))
        return ", ".join(f"{n} {self.seconds[n]:.2f} s" for n in names)

    def as_dict(self) -> dict[str, float]:
        return {n: round(s, 3) for n, s in self.seconds.items()}
