"""The warm pool and a worker that dies: under gevent ``proc.poll()`` reports the exit only after
the SIGCHLD is handled, so a dead worker can still look alive; the pool drops a worker it finds
gone and asks a fresh one, and the request is answered."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from digitsx.jobs import protocol
from digitsx.jobs.serving import WarmPool, WarmWorker


class LaggingProc:
    """A real worker process whose ``poll()`` has not noticed its death (gevent's lag)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._proc = proc

    def poll(self):
        return None

    def __getattr__(self, name):
        return getattr(self._proc, name)


def test_a_worker_found_dead_is_dropped_and_the_request_answered():
    started = []

    def start(key):
        proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures.echo_serve"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        protocol.read_message(proc.stdout.readline(), "ready")
        started.append(proc)
        return WarmWorker(key, LaggingProc(proc), None, {})

    pool = WarmPool(None, None, lambda gpus: "", time.sleep)
    pool._start = start
    try:
        assert pool.classify("m", "1", {"x": 1})["echo"] == {"x": 1}
        os.kill(started[0].pid, signal.SIGKILL)
        started[0].wait()
        assert pool.classify("m", "1", {"x": 2})["echo"] == {"x": 2}  # a fresh worker answered
        assert len(started) == 2 and pool.workers[("m", "1")].proc._proc is started[1]
    finally:
        pool.stop()
        for proc in started:
            proc.kill()
            proc.wait()
