"""A real server subprocess, real workers, a real Socket.IO client, and a kill -9."""
from __future__ import annotations

import threading

import psutil
import pytest
import requests
import socketio

from tests.conftest import wait_for

pytestmark = pytest.mark.server


class Listener:
    """A Socket.IO client on /jobs that records every event it receives."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        for name in ("job update", "task update", "server update", "joined"):
            self.sio.on(name, self._recorder(name), namespace="/jobs")
        self.sio.connect(url, namespaces=["/jobs"], transports=["websocket"], wait_timeout=10)

    def _recorder(self, name):
        def record(data):
            with self.lock:
                self.events.append((name, data))
        return record

    def join(self, room: str) -> None:
        self.sio.emit("join", {"room": room}, namespace="/jobs")
        wait_for(lambda: self.find("joined", lambda d: d["room"] == room), 10, what=f"join {room}")

    def find(self, name: str, match=lambda d: True) -> list[dict]:
        with self.lock:
            return [d for n, d in self.events if n == name and match(d)]

    def close(self) -> None:
        self.sio.disconnect()


def session(server, user: str = "alice") -> requests.Session:
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    assert s.post(server.url + "/login", data={"username": user}).ok
    return s


def create(s, server, **fields) -> dict:
    res = s.post(server.url + "/test/jobs.json", data=fields)
    assert res.ok, res.text
    return res.json()


def status(s, server, job_id) -> str:
    return s.get(f"{server.url}/jobs/{job_id}/status").json()["status"]


def test_live_events_and_kill9_recovery(server_factory):
    server = server_factory(DIGITSX_FAKE_GPUS="1")
    s = session(server)
    listener = Listener(server.url)
    listener.join("job_management")

    # A job that finishes, watched from its own room: status, progress, metrics, telemetry.
    done = create(s, server, kind="test.train", name="finished", steps=25, delay=0.08)
    listener.join(done["id"])
    wait_for(lambda: status(s, server, done["id"]) == "Done", 30, what="first job Done")
    mine = lambda d: d.get("job_id") == done["id"]
    # the REST answer can say Done a moment before the socket's event reaches this listener
    wait_for(lambda: any(d["update"] == "status" and d["job"]["status"] == "Done"
                         for d in listener.find("job update", mine)), 10, what="the Done event")
    statuses = [d["job"]["status"] for d in listener.find("job update", mine) if d["update"] == "status"]
    assert statuses[-2:] == ["Running", "Done"]
    progress = [d["job"]["progress"] for d in listener.find("job update", mine) if d["update"] == "progress"]
    assert progress and progress == sorted(progress)
    wait_for(lambda: listener.find("task update", lambda d: mine(d) and d["update"] == "metric"),
             5, what="metric events")
    metrics = listener.find("task update", lambda d: mine(d) and d["update"] == "metric")
    assert metrics[-1]["values"]["loss"] == pytest.approx(1 / 25)
    telemetry = listener.find("server update", lambda d: d["update"] == "telemetry")
    assert telemetry and telemetry[0]["gpus"][0]["index"] == 0
    assert listener.find("server update", lambda d: d["update"] == "gpus" and d["gpus_total"] == 1)
    before = s.get(f"{server.url}/jobs/{done['id']}.json").json()
    metrics_before = s.get(f"{server.url}/jobs/{done['id']}/metrics.json").json()["metrics"]
    assert len(metrics_before) == 25

    # A running job with child processes, and one queued behind it for the only GPU.
    running = create(s, server, kind="test.train", name="running", steps=100000, delay=0.05,
                     children=2)
    queued = create(s, server, kind="test.train", name="queued", steps=1)
    kids = wait_for(lambda: s.get(f"{server.url}/jobs/{running['id']}.json").json()["result"]
                    .get("children"), 20, what="the worker's children")
    worker = s.get(f"{server.url}/jobs/{running['id']}.json").json()["result"]["worker_pid"]
    wait_for(lambda: status(s, server, queued["id"]) == "Waiting", 10, what="queued job Waiting")
    listener.close()

    server.kill9()
    second = server_factory(DIGITSX_FAKE_GPUS="1")
    s2 = session(second)

    # Nothing finished is lost: row, timeline, metrics, files.
    after = s2.get(f"{second.url}/jobs/{done['id']}.json").json()
    assert after["status"] == "Done"
    assert after["status_history"] == before["status_history"]
    assert s2.get(f"{second.url}/jobs/{done['id']}/metrics.json").json()["metrics"] == metrics_before
    folder = server.jobs_dir / done["id"]
    assert (folder / "spec.json").exists() and (folder / "events.jsonl").stat().st_size > 0

    # What was running or queued is Interrupted, not lost and not silently rerun.
    for job_id in (running["id"], queued["id"]):
        job = s2.get(f"{second.url}/jobs/{job_id}.json").json()
        assert job["status"] == "Interrupted"
        assert "server restarted" in job["status_history"][-1][2]

    # Orphaned worker processes were stopped, children included: no GPU stays held.
    gone = lambda pid: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    wait_for(lambda: all(gone(p) for p in [worker, *kids]), 10, what="orphans to stop")
    gpus = s2.get(f"{second.url}/gpus.json").json()
    assert gpus["gpus_available"] == 1

    # The new server schedules work normally, and the interrupted job resumes.
    res = s2.post(f"{second.url}/jobs/{queued['id']}/resume")
    assert res.ok, res.text
    wait_for(lambda: status(s2, second, queued["id"]) == "Done", 30, what="resumed job Done")


def test_server_survives_bad_requests_and_a_failing_job(server_factory):
    server = server_factory()
    s = session(server)
    bad = create(s, server, name="bad", steps=5, crash=0)
    good = create(s, server, name="good", steps=5, delay=0.01)
    wait_for(lambda: status(s, server, bad["id"]) == "Error", 20, what="crash")
    wait_for(lambda: status(s, server, good["id"]) == "Done", 20, what="good job")
    assert s.get(server.url + "/jobs/../../etc/passwd").status_code == 404
    assert s.post(server.url + "/test/jobs.json", data={"kind": "nope"}).status_code == 400
    assert s.get(server.url + "/index.json").ok
