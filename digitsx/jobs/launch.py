"""The one way a worker process starts: its GPUs only (``CUDA_VISIBLE_DEVICES``), unbuffered
output, its own process group (so an abort or a timeout reaches its children), and the
``DIGITSX_WORKER_OF`` marker every process it starts inherits (how a restarted server finds and
stops orphans). Used by the runner (jobs), warm serving, and the short workers a request waits
for (network preview, export)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any


def environment(jobs_dir: Path, gpus: str = "", **extra: str) -> dict[str, str]:
    """A worker's environment: ``gpus`` (names for ``CUDA_VISIBLE_DEVICES``; "" is none)."""
    env = dict(os.environ)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    # Every torch.load in a worker reads tensors only, whatever a library asks for (torch.hub's
    # load_state_dict_from_url defaults to the full pickler): a weights file never runs code.
    env.update(CUDA_VISIBLE_DEVICES=gpus, PYTHONUNBUFFERED="1", TORCH_FORCE_WEIGHTS_ONLY_LOAD="1",
               DIGITSX_WORKER_OF=str(Path(jobs_dir).resolve()), **extra)
    return env


def lower_priority(pid: int, nice: int) -> None:
    """Run a worker's process group ``nice`` steps below this process (as batch schedulers do):
    the web process answers a person's click before a worker's next batch. Children the worker
    starts later (DataLoader processes, DDP ranks) inherit it."""
    if nice <= 0:
        return
    try:
        os.setpriority(os.PRIO_PGRP, pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
    except (OSError, AttributeError):  # gone already, or a platform without priorities
        pass


def launch(argv: list[str], jobs_dir: Path, *, gpus: str = "", cwd: Path | None = None,
           stdin: Any = subprocess.DEVNULL, stderr: IO[bytes] | int | None = None, nice: int = 0,
           **extra_env: str) -> subprocess.Popen:
    """Start ``argv`` as a worker (``nice`` steps below the server); stdout is a text pipe of lines."""
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd,
                            start_new_session=True, env=environment(jobs_dir, gpus, **extra_env),
                            text=True, bufsize=1)
    lower_priority(proc.pid, nice)
    return proc


def run_module(module: str, args: list[str], jobs_dir: Path, *, input: str | None = None,
               timeout: float, gpus: str = "", cwd: Path | None = None,
               nice: int = 0) -> tuple[int | None, str, str]:
    """Run ``python -m module args`` to its end: (exit code, stdout, stderr). On ``timeout``
    the whole process group is killed and the code is None."""
    proc = subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=environment(jobs_dir, gpus), cwd=cwd)
    lower_priority(proc.pid, nice)
    try:
        out, err = proc.communicate(input, timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        out, err = proc.communicate()
        return None, out, err
