"""Fixtures that build the world: an app on a temporary jobs folder, a test client, a real
server subprocess, and helpers to wait for jobs."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "tests.fixtures.kinds"
# Workers run "python -m tests.fixtures.worker": they must find the tests package.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05,
             what: str = "condition"):
    """Poll until ``predicate()`` is truthy; fail the test naming ``what`` after ``timeout``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def database_url(tmp_path: Path) -> str:
    """SQLite in the test's folder, or the empty database DIGITSX_TEST_DATABASE_URL names
    (``postgresql+psycopg://...``: the same tests then run on PostgreSQL)."""
    url = os.environ.get("DIGITSX_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'digitsx.db'}"
    from sqlalchemy import create_engine

    from digitsx.db import Base

    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def make_app(tmp_path):
    """Build apps on a temporary jobs folder, scheduler not started (tests tick it)."""
    from digitsx import create_app

    apps = []

    def make(**config):
        cfg = {"JOBS_DIR": str(tmp_path / "jobs"), "PLUGINS": [PLUGIN], "TESTING": True,
               "SCHEDULER_AUTOSTART": False, "ABORT_GRACE_SECONDS": 1.0, "SECRET_KEY": "test",
               "PRESTART_WORKER": False}
        cfg.update(config)
        if "DATABASE_URL" not in cfg:  # a fresh database (PostgreSQL: emptied) per new app
            cfg["DATABASE_URL"] = database_url(tmp_path)
        app = create_app(cfg)
        apps.append(app)
        return app

    yield make
    for app in apps:
        platform = app.extensions["digitsx"]
        for job_id in list(platform.runner.handles):
            platform.runner.abort(job_id)
        wait_for(lambda: not platform.runner.handles, 10, what="workers to stop")
        platform.stop()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, name: str = "alice"):
    """Log the test client in."""
    res = client.post("/login", data={"username": name},
                      headers={"Accept": "application/json"})
    assert res.status_code == 200, res.data
    return res


def run_job(app, client, timeout: float = 30.0, headers: dict | None = None, **fields) -> dict:
    """Create a fixture job over REST and tick the scheduler until it has finished."""
    res = client.post("/test/jobs.json", data=fields, headers=headers or {})
    assert res.status_code == 200, res.data
    job_id = res.get_json()["id"]
    return wait_job(app, job_id, timeout)


def wait_job(app, job_id: str, timeout: float = 30.0, statuses=("Done", "Error", "Aborted")):
    """Tick until the job reaches one of ``statuses``; returns its JSON."""
    platform = app.extensions["digitsx"]

    def finished():
        platform.scheduler.tick()
        job = platform.store.get(job_id)
        return job.status in statuses and job_id not in platform.runner.handles and job

    job = wait_for(finished, timeout, what=f"job {job_id} to reach {statuses}")
    return platform.job_json(job)


def download(session: requests.Session, url: str, timeout: float = 600, **kw) -> requests.Response:
    """GET a model's download, following the 202s its first export answers (the README's loop)."""
    deadline = time.time() + timeout
    while True:
        res = session.get(url, **kw)
        if res.status_code != 202:
            return res
        assert time.time() < deadline, f"the export of {url} took longer than {timeout} s"
        time.sleep(float(res.headers.get("Retry-After", 1)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real ``digitsx-devserver`` subprocess on a free port."""

    def __init__(self, jobs_dir: Path, host: str = "127.0.0.1", **env: str) -> None:
        self.jobs_dir = jobs_dir
        self.host = host
        self.env = {**os.environ, "DIGITSX_PLUGINS": PLUGIN, "DIGITSX_ABORT_GRACE_SECONDS": "2",
                    "DIGITSX_PRESTART_WORKER": "0",
                    "DIGITSX_SECRET_KEY": "test", **env}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Server":
        exe = shutil.which("digitsx-devserver", path=str(Path(sys.executable).parent))
        cmd = [exe or "digitsx-devserver", "--host", self.host, "--port", str(self.port),
               "--jobs-dir", str(self.jobs_dir)]
        self.log = open(self.jobs_dir.parent / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for(self._up, 30, 0.1, "the server to answer")
        except BaseException:
            self.stop()  # never leave a server behind a failed start
            raise
        return self

    def _up(self) -> bool:
        assert self.proc.poll() is None, f"server exited: {self.read_log()}"
        try:  # the login page answers anonymous callers in both modes
            return requests.get(self.url + "/login.json", timeout=1).ok
        except requests.ConnectionError:
            return False

    def read_log(self) -> str:
        return (self.jobs_dir.parent / f"server-{self.port}.log").read_text(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()


@pytest.fixture
def server_factory(tmp_path):
    """Start real servers; all are stopped at the end of the test."""
    servers = []
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir(exist_ok=True)

    def start(host: str = "127.0.0.1", **env) -> Server:
        server = Server(jobs_dir, host, **env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


ADMIN_PASSWORD = "admin-test-password"
PASSWORD_MODE = {"DIGITSX_AUTH": "password", "DIGITSX_ADMIN_PASSWORD": ADMIN_PASSWORD}


def api_session(server: Server, user: str = "alice") -> requests.Session:
    """A logged-in keep-alive session that asks for JSON."""
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    assert s.post(server.url + "/login", data={"username": user}).ok
    return s


def token_session(server: Server, user: str = "alice", can_run_code: bool = True,
                  is_admin: bool = False) -> requests.Session:
    """Password mode: the admin (HTTP Basic) creates ``user``, who gets an API token over
    HTTP Basic; a session that sends it as ``Authorization: Bearer``."""
    admin = requests.Session()
    admin.auth = ("admin", ADMIN_PASSWORD)
    res = admin.post(server.url + "/api/tokens", json={"name": "admin tests"})
    assert res.status_code == 201, res.text
    admin_token = res.json()["token"]
    res = requests.post(server.url + "/api/users", json={
        "username": user, "password": f"{user}-password", "can_run_code": can_run_code,
        "is_admin": is_admin}, headers={"Authorization": f"Bearer {admin_token}"})
    assert res.status_code == 201, res.text
    res = requests.post(server.url + "/api/tokens", json={"name": "tests"},
                        auth=(user, f"{user}-password"))
    assert res.status_code == 201, res.text
    s = requests.Session()
    s.headers.update({"Accept": "application/json",
                      "Authorization": f"Bearer {res.json()['token']}"})
    return s


def built_dataset(s: requests.Session, server: Server, folder: Path, size: int = 28,
                  channels: int = 1, timeout: float = 120, **fields) -> str:
    """Create an image classification dataset over REST and wait until it is Done; its id."""
    res = s.post(server.url + "/datasets/images/classification.json", data={
        "dataset_name": folder.name, "folder_train": str(folder), "resize_channels": channels,
        "resize_width": size, "resize_height": size, **fields})
    assert res.ok, res.text
    job_id = res.json()["id"]
    wait_for(lambda: s.get(f"{server.url}/datasets/{job_id}/status").json()["status"] == "Done",
             timeout, 0.2, f"dataset {job_id}")
    return job_id
