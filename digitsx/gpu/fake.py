"""Fake GPUs with the :class:`~digitsx.gpu.nvml.Nvml` interface, for tests and demos.

``DIGITSX_FAKE_GPUS=2`` gives the scheduler two GPU slots on a machine without any; telemetry
is synthetic (a held GPU shows load). Workers still run on the CPU.
"""
from __future__ import annotations

import random
from typing import Any, Callable


class FakeNvml:
    """``n`` fake devices; ``busy(index)`` says whether a job holds one (for plausible load)."""

    available = True

    def __init__(self, n: int, busy: Callable[[int], bool] | None = None) -> None:
        self.n = n
        self.busy = busy or (lambda index: False)

    def count(self) -> int:
        return self.n

    def device(self, index: int) -> dict[str, Any]:
        return {"index": index, "name": "Fake GPU", "uuid": f"GPU-fake-{index}",
                "memory_total": 16 * 1024**3}

    def sample(self, index: int) -> dict[str, Any]:
        load = self.busy(index)
        return {"index": index, "utilization": random.randint(70, 99) if load else 0,
                "memory_used": (6 if load else 0) * 1024**3 + 300 * 1024**2,
                "memory_total": 16 * 1024**3, "temperature": 65 if load else 35,
                "power": 180.0 if load else 25.0}
