"""A cluster job's telemetry on one node: started by the batch script on every node beside the
worker (``srun --overlap``), it appends a point every few seconds to
``<job folder>/nodes/<node>.jsonl``: the node's CPU (100 % = one core), its memory, and each
GPU's utilisation and memory (NVML, where there is one). The server follows these files as it
follows the worker's events, and the job page charts each node.

    python -m digitsx.jobs.node_telemetry JOB_DIR [SECONDS]
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path


def gpus() -> list[dict]:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no NVML: a CPU node
        return []
    out = []
    for i in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(i)
        util = pynvml.nvmlDeviceGetUtilizationRates(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        out.append({"index": i, "util": util.gpu, "memory_used": memory.used, "memory_total": memory.total})
    return out


def main(job_dir: str, every: float = 2.0) -> int:
    import psutil

    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    folder = Path(job_dir) / "nodes"
    folder.mkdir(exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    psutil.cpu_percent(interval=None)
    with open(folder / f"{node}.jsonl", "a", encoding="utf-8") as out:
        while True:
            time.sleep(every)
            memory = psutil.virtual_memory()
            point = {"t": round(time.time(), 1), "node": node,
                     "cpu": round(psutil.cpu_percent(interval=None) * psutil.cpu_count(), 1),
                     "memory_used": memory.total - memory.available, "memory_total": memory.total,
                     "gpus": gpus()}
            out.write(json.dumps(point) + "\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], *(float(a) for a in sys.argv[2:3])))
