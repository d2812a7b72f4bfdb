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


def test_workers_run_below_the_web_process_and_their_children_too(make_app):
    """Job workers (and what they start) run WORKER_NICE steps below the server: a person's
    request is served before a worker's next batch. Warm inference workers are not lowered."""
    import os

    from tests.conftest import login, wait_for

    app = make_app(WORKER_NICE=7)
    client = app.test_client()
    login(client)
    job = client.post("/test/jobs.json", data={"kind": "test.count", "steps": 400, "delay": 0.05,
                                               "children": 1}).get_json()
    platform = app.extensions["digitsx"]
    platform.scheduler.tick()
    result = wait_for(lambda: platform.store.get(job["id"]).result.get("children") and
                      platform.store.get(job["id"]).result, 20, what="the worker and its child")
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert psutil.Process(result["worker_pid"]).nice() == min(19, base + 7)
    assert psutil.Process(result["children"][0]).nice() == min(19, base + 7)
    platform.runner.abort(job["id"])
    proc = launch.launch(["sleep", "5"], platform.store.jobs_dir)  # nice=0: as the server
    try:
        assert psutil.Process(proc.pid).nice() == base
    finally:
        proc.kill()
        proc.wait()
