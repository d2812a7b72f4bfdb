"""A thin wrapper over NVML (``nvidia-ml-py``): device facts and one telemetry sample each.

Every call degrades to "no GPU" instead of raising: a host without a driver is a normal host.
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class Nvml:
    """NVML if the driver answers; ``available`` is False otherwise."""

    def __init__(self) -> None:
        self.available = False
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nv = pynvml
            self.available = True
        except Exception as err:  # no library, no driver, no device: all mean "no GPU"
            log.info("NVML unavailable (%s): no GPUs", err)

    def count(self) -> int:
        """Number of devices the driver sees."""
        return self._nv.nvmlDeviceGetCount() if self.available else 0

    def device(self, index: int) -> dict[str, Any]:
        """Static facts: index, name, uuid, total memory in bytes."""
        h = self._nv.nvmlDeviceGetHandleByIndex(index)
        name = self._nv.nvmlDeviceGetName(h)
        uuid = self._nv.nvmlDeviceGetUUID(h)
        mem = self._nv.nvmlDeviceGetMemoryInfo(h)
        return {"index": index, "name": _text(name), "uuid": _text(uuid), "memory_total": mem.total}

    def sample(self, index: int) -> dict[str, Any]:
        """Utilization %, memory used/total bytes, temperature °C, power W (None if unsupported)."""
        nv = self._nv
        h = nv.nvmlDeviceGetHandleByIndex(index)
        out: dict[str, Any] = {"index": index}
        out["utilization"] = _try(lambda: nv.nvmlDeviceGetUtilizationRates(h).gpu)
        mem = _try(lambda: nv.nvmlDeviceGetMemoryInfo(h))
        out["memory_used"] = mem.used if mem else None
        out["memory_total"] = mem.total if mem else None
        out["temperature"] = _try(lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))
        power = _try(lambda: nv.nvmlDeviceGetPowerUsage(h))
        out["power"] = power / 1000.0 if power is not None else None
        return out


def _try(fn):
    try:
        return fn()
    except Exception:
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
