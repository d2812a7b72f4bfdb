"""The one way a worker starts: its GPUs only, the orphan marker, its own process group."""
from __future__ import annotations

import json
import time

import psutil

from digitsx.jobs import launch


def test_a_short_worker_gets_the_workers_environment(tmp_path):
    code, out, _ = launch.run_module("json.tool", [], tmp_path, timeout=30,
                                     input=json.dumps({"probe": 1}))
    assert code == 0 and json.loads(out) == {"probe": 1}
    env = launch.environment(tmp_path, "GPU-abc", DIGITSX_JOB_ID="j1")
    assert (env["CUDA_VISIBLE_DEVICES"], env["DIGITSX_JOB_ID"], env["PYTHONUNBUFFERED"]) == \
        ("GPU-abc", "j1", "1")
    assert env["DIGITSX_WORKER_OF"] == str(tmp_path.resolve())  # how orphans are found
    assert launch.environment(tmp_path)["CUDA_VISIBLE_DEVICES"] == ""  # no GPU unless reserved


def test_a_timeout_kills_the_worker_and_its_children(tmp_path):
    (tmp_path / "sleepy.py").write_text(
        "import subprocess, sys, time\n"
        "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(kid.pid, flush=True)\ntime.sleep(60)\n")
    started = time.time()
    code, out, _ = launch.run_module("sleepy", [], tmp_path, timeout=3, cwd=tmp_path)
    assert code is None and time.time() - started < 20
    kid = int(out.split()[0])
    deadline = time.time() + 10
    while psutil.pid_exists(kid) and psutil.Process(kid).status() != psutil.STATUS_ZOMBIE \
            and time.time() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(kid) or psutil.Process(kid).status() == psutil.STATUS_ZOMBIE
