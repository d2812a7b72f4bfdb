"""Accounts on a real server: the issue's reproductions refused, tokens, cookies with CSRF,
Socket.IO, and the refusal to serve open mode beyond loopback."""
from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import socketio

from tests.conftest import ADMIN_PASSWORD, PASSWORD_MODE, free_port, token_session, wait_for

pytestmark = pytest.mark.server
CODE = "import pathlib\npathlib.Path({!r}).touch()\ndef build(a, b, c):\n    return None\n"


def devserver(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    exe = shutil.which("digitsx-devserver", path=str(Path(sys.executable).parent))
    return subprocess.run([exe or "digitsx-devserver", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_open_mode_refuses_a_non_loopback_address(tmp_path):
    import os

    env = {**os.environ, "DIGITSX_AUTH": "open"}
    for args in (["--host", "0.0.0.0"], ["--host", "::", "--auth", "open"]):
        proc = devserver(*args, "--port", str(free_port()), "--jobs-dir", str(tmp_path / "j"),
                         env=env)
        assert proc.returncode == 2, proc.stderr
        assert "refusing to serve" in proc.stderr and "DIGITSX_AUTH=password" in proc.stderr


def test_non_loopback_defaults_to_password_mode_with_a_first_admin(server_factory):
    server = server_factory(host="0.0.0.0")  # reached only through 127.0.0.1 here
    log = server.read_log()
    assert "password mode" in log
    secret = server.jobs_dir / "initial_admin_password"
    password = secret.read_text().strip()
    assert password in log and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert requests.get(server.url + "/index.json").status_code == 401
    s = requests.Session()
    res = s.post(server.url + "/login", data={"username": "admin", "password": password},
                 headers={"Accept": "application/json"})
    assert res.ok and s.get(server.url + "/index.json").ok


def test_the_reproductions_are_refused_in_password_mode(server_factory, tmp_path):
    server = server_factory(**PASSWORD_MODE)
    url = server.url
    marker = tmp_path / "pwned"
    alice = token_session(server, "alice", can_run_code=False)
    job = alice.post(url + "/test/jobs.json", data={"steps": 100000, "delay": 0.05}).json()
    anon = requests.Session()
    anon.headers["Accept"] = "application/json"
    # Anonymous code execution (no login, no CSRF token)
    res = anon.post(url + "/models/images/classification/visualize-network",
                    data={"method": "custom", "custom_network": CODE.format(str(marker))})
    assert res.status_code == 401
    # ... and a logged-in user without can_run_code
    res = alice.post(url + "/models/images/classification/visualize-network",
                     data={"method": "custom", "custom_network": CODE.format(str(marker))})
    assert res.status_code == 403
    # A username field acting as another user
    for method, path in (("post", f"/jobs/{job['id']}/abort"), ("post", f"/jobs/{job['id']}/resume"),
                         ("put", f"/jobs/{job['id']}"), ("delete", f"/jobs/{job['id']}")):
        res = getattr(anon, method)(url + path, data={"username": "alice", "job_name": "x"})
        assert res.status_code == 401, path
    # Anonymous reads
    for path in (f"/jobs/{job['id']}.json", f"/jobs/{job['id']}/log.json",
                 f"/files/{job['id']}/spec.json", f"/models/{job['id']}/download.zip",
                 "/index.json", "/api/openapi.json"):
        assert anon.get(url + path).status_code == 401, path
    # Socket.IO without credentials
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(url, namespaces=["/jobs"], transports=["websocket"], wait_timeout=5)
    # next pointing off-site
    res = anon.post(url + "/login", data={"username": "alice", "password": "alice-password",
                                          "next": "/\t/evil.example"}, allow_redirects=False,
                    headers={"Accept": "text/html"})
    assert res.status_code == 302 and res.headers["Location"] == "/"
    assert not marker.exists()
    assert alice.post(f"{url}/jobs/{job['id']}/abort").ok


def test_cookie_scripts_send_the_csrf_token_and_tokens_need_none(server_factory):
    server = server_factory(**PASSWORD_MODE)
    url = server.url
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    res = s.post(url + "/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.ok and "HttpOnly" in res.headers["Set-Cookie"]
    assert "SameSite=Lax" in res.headers["Set-Cookie"]
    token = res.json()["csrf_token"]
    assert s.get(url + "/index.json").ok
    res = s.post(url + "/test/jobs.json", data={"steps": 1})
    assert res.status_code == 403 and "CSRF" in res.json()["error"]["message"]
    assert s.post(url + "/test/jobs.json", data={"steps": 1},
                  headers={"X-CSRFToken": token}).ok
    # a token made over HTTP Basic, used with no cookie, then revoked
    made = requests.post(url + "/api/tokens", json={"name": "ci"},
                         auth=("admin", ADMIN_PASSWORD)).json()
    bearer = {"Authorization": f"Bearer {made['token']}", "Accept": "application/json"}
    job = requests.post(url + "/test/jobs.json", data={"steps": 1}, headers=bearer)
    assert job.ok and job.json()["username"] == "admin"
    assert requests.delete(f"{url}/api/tokens/{made['id']}", headers=bearer).ok
    assert requests.get(url + "/index.json", headers=bearer).status_code == 401


def test_socketio_with_a_token_joins_only_existing_jobs(server_factory):
    server = server_factory(**PASSWORD_MODE)
    alice = token_session(server, "alice")
    token = alice.headers["Authorization"].split()[1]
    events: list[tuple[str, dict]] = []
    sio = socketio.Client(reconnection=False)
    for name in ("joined", "join refused", "job update"):
        sio.on(name, (lambda n: lambda data: events.append((n, data)))(name), namespace="/jobs")
    sio.connect(server.url, namespaces=["/jobs"], transports=["websocket"],
                auth={"token": token}, wait_timeout=10)
    try:
        sio.emit("join", {"room": "20200101-000000-dead"}, namespace="/jobs")
        wait_for(lambda: any(n == "join refused" for n, _ in events), 10, what="refusal")
        job = alice.post(server.url + "/test/jobs.json", data={"steps": 3, "delay": 0.05}).json()
        sio.emit("join", {"room": job["id"]}, namespace="/jobs")
        wait_for(lambda: any(n == "job update" and d["job_id"] == job["id"] and
                             d["job"]["status"] == "Done" for n, d in events), 30,
                 what="the job's updates")
    finally:
        sio.disconnect()
    bad = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        bad.connect(server.url, namespaces=["/jobs"], transports=["websocket"],
                    auth={"token": "dxt_forged"}, wait_timeout=5)
