"""Faults a real server must survive with a clear message (issue 10)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import api_session, free_port, wait_for

pytestmark = pytest.mark.server


def devserver(jobs_dir: Path, env: dict | None = None, port: int | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("digitsx-devserver", path=str(Path(sys.executable).parent))
    return subprocess.run([exe or "digitsx-devserver", "--port", str(port or free_port()), "--jobs-dir",
                           str(jobs_dir)], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=60)


def test_a_second_server_on_the_same_jobs_folder_refuses_to_start(server_factory):
    first = server_factory()
    s = api_session(first)
    job = s.post(first.url + "/test/jobs.json", data={"steps": 100000, "delay": 0.05}).json()
    wait_for(lambda: s.get(f"{first.url}/jobs/{job['id']}/status").json()["status"] == "Running",
             20, what="a running job")
    second = devserver(first.jobs_dir)
    assert second.returncode == 2
    assert f"pid {first.proc.pid}" in second.stderr and "Traceback" not in second.stderr
    # the first server's job was not touched by the second's start-up
    assert s.get(f"{first.url}/jobs/{job['id']}/status").json()["status"] == "Running"
    first.kill9()  # the kernel drops the lock with the process: a restart works
    again = server_factory()
    assert api_session(again).get(f"{again.url}/jobs/{job['id']}/status").json()["status"] \
        == "Interrupted"


def test_an_unusable_jobs_folder_is_one_clear_line(tmp_path):
    # root writes through read-only permissions, so the folder is made impossible instead
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = devserver(blocker / "jobs")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("digitsx-devserver: cannot start:") and "a-file" in proc.stderr


def test_a_port_in_use_is_one_line_naming_it_and_nothing_starts(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = devserver(tmp_path / "jobs", port=port)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "serving on" not in proc.stdout
    assert proc.stderr.strip() == (f"digitsx-devserver: cannot start: port {port} on 127.0.0.1 is "
                                   f"already in use (another digitsx or another server?); choose "
                                   f"another with --port")
    assert not (tmp_path / "jobs").exists()  # refused before the jobs folder or a worker was touched


def test_bulk_delete_of_queued_jobs_is_one_pass(server_factory):
    from tests.integration.test_server import Listener

    server = server_factory(DIGITSX_FAKE_GPUS="1")
    s = api_session(server)
    blocker = s.post(server.url + "/test/jobs.json",
                     data={"kind": "test.train", "steps": 100000, "delay": 0.05}).json()
    n = 120
    queued = [s.post(server.url + "/test/jobs.json", data={"kind": "test.train", "steps": 1,
                                                           "name": f"q{i}"}).json()["id"]
              for i in range(n)]
    wait_for(lambda: s.get(f"{server.url}/jobs/{queued[-1]}/status").json()["status"] == "Waiting",
             30, what="the queue")
    listener = Listener(server.url)
    listener.join("job_management")
    try:
        res = s.delete(server.url + "/jobs", data={"job_ids[]": queued})
        assert res.ok and len(res.json()["deleted"]) == n and res.json()["errors"] == {}
        wait_for(lambda: len(listener.find("job update", lambda d: d["update"] == "deleted")) == n,
                 30, what="every deletion announced")
        # one tick per deleted job renumbered every job behind it: n²/2 queue notices
        queue_notices = listener.find("job update", lambda d: d["update"] == "queue")
        assert len(queue_notices) < n, len(queue_notices)
    finally:
        listener.close()
    assert s.get(f"{server.url}/jobs/{blocker['id']}/status").json()["status"] == "Running"
    assert s.post(f"{server.url}/jobs/{blocker['id']}/abort").ok
