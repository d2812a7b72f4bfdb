"""A worker started before its job: it imports torch (and what every training job needs) while
the server is idle, then waits for one job on stdin and runs it as ``python -m <module>`` would.

    python -m digitsx.jobs.prestart

Importing torch and ``torch._dynamo`` (which the optimizers import on their first call) is most
of a training job's start-up: about 5 s of a 6-s start on 2 cores. The runner keeps one such
process ready while no job runs (:class:`~digitsx.jobs.runner.Runner`) and hands it the next
single-process job. The handover is one JSON line::

    {"module": "digitsx.classification.train", "args": [JOB_DIR], "cwd": JOB_DIR,
     "env": {"CUDA_VISIBLE_DEVICES": "...", ...}, "stderr": "JOB_DIR/log.txt"}

The job's environment is applied before anything touches CUDA (nothing imported here
initialises it, and the worker refuses to run if something did: its GPUs come from
``CUDA_VISIBLE_DEVICES``). stdout is already the runner's pipe; stderr moves to the job's log.
Stdlib and torch only: workers never import Flask.
"""
from __future__ import annotations

import json
import os
import runpy
import sys
import time

WARM_MODULES = ("torch", "torch._dynamo", "torch.nn.functional", "torch.optim", "torchvision",
                "digitsx.engine.trainer")


def warm_up() -> None:
    """Import what a training job's start spends its time on."""
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the job imports it again and says what is wrong
            pass


def take(job: dict) -> None:
    """Become the job's worker: its environment, folder, log and arguments."""
    os.environ.update({str(k): str(v) for k, v in (job.get("env") or {}).items()})
    os.environ["DIGITSX_TAKEN_AT"] = repr(time.time())  # the job's start-up counts from here
    if job.get("cwd"):
        os.chdir(job["cwd"])
    if job.get("stderr"):
        fd = os.open(job["stderr"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # as a worker started directly: no stdin
    os.close(null)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised before the job's GPUs were known")
    sys.argv = ["-m", *[str(a) for a in job.get("args") or []]]
    if torch is not None and os.environ.get("CUDA_VISIBLE_DEVICES"):
        import threading

        def init_cuda() -> None:  # the context starts while the job reads its data
            try:
                torch.cuda.init()
            except Exception:  # noqa: BLE001 - the job's own first CUDA call reports it
                pass

        threading.Thread(target=init_cuda, name="cuda-init", daemon=True).start()


def main() -> int:
    warm_up()
    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the server closed the pipe: no job came
    job = json.loads(line)
    take(job)
    try:
        runpy.run_module(str(job["module"]), run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
