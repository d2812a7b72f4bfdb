"""A real digitsx server for the benchmarks, and the REST steps they share."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import requests


def session(url: str, user: str = "bench") -> requests.Session:
    """A keep-alive session logged in (open mode) that asks for JSON."""
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    s.post(url + "/login", data={"username": user})
    return s


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def wait(s, url: str, timeout: float = 900, poll: float = 0.2) -> dict:
    """Poll a job's status URL until it finishes; it must be Done. (Poll slowly in a timed
    run: fast polls load the server the job shares the cores with.)"""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = s.get(url).json()
        if status["status"] in ("Done", "Error", "Aborted"):
            assert status["status"] == "Done", status
            return status
        time.sleep(poll)
    raise TimeoutError(url)


def start(port: int, folder: Path, jobs_dir: Path | None = None, **env: str) -> subprocess.Popen:
    """``digitsx-devserver`` on 127.0.0.1:``port``, jobs in ``jobs_dir`` (default
    ``folder/jobs-<port>``), with ``DIGITSX_*`` settings from ``env``; returns once it answers."""
    exe = Path(sys.executable).parent / "digitsx-devserver"
    proc = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", str(port), "--jobs-dir",
                             str(jobs_dir or folder / f"jobs-{port}")],
                            env={**os.environ, "DIGITSX_SECRET_KEY": "bench", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/login.json", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def servers(folder: Path, *specs: tuple[int, dict]):
    """Several servers at once, ``(port, DIGITSX_* settings)`` each; all stopped at the end.
    Yields their base URLs."""
    procs = []
    try:
        for port, env in specs:
            procs.append(start(port, folder, **env))
        yield [f"http://127.0.0.1:{port}" for port, _ in specs]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


@contextlib.contextmanager
def server(tmp: Path, port: int):
    """``digitsx-devserver`` on ``port`` with ``tmp`` as data root and jobs under ``tmp/jobs``;
    yields ``(url, logged-in JSON session)``."""
    proc = subprocess.Popen([str(Path(sys.executable).parent / "digitsx-devserver"), "--host",
                             "127.0.0.1", "--port", str(port), "--jobs-dir", str(tmp / "jobs")],
                            env={**os.environ, "DIGITSX_DATA_ROOTS": str(tmp)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    try:
        for _ in range(100):
            try:
                s.get(url + "/index.json")
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        s.post(url + "/login", data={"username": "bench"})
        yield url, s
    finally:
        proc.terminate()
        proc.wait(10)


def dataset_and_model(s, url: str, name: str, folder: Path, size: int, channels: int,
                      network: str, epochs: int = 1) -> tuple[str, str]:
    """Build a dataset from ``folder`` and train ``network`` on it; ``(dataset id, model id)``."""
    ds = s.post(url + "/datasets/images/classification.json", data={
        "dataset_name": name, "folder_train": str(folder), "resize_width": size,
        "resize_height": size, "resize_channels": channels}).json()
    wait(s, f"{url}/datasets/{ds['id']}/status")
    model = s.post(url + "/models/images/classification.json", data={
        "model_name": network, "dataset": ds["id"], "standard_networks": network,
        "train_epochs": epochs, "batch_size": 16}).json()
    wait(s, f"{url}/models/{model['id']}/status")
    return ds["id"], model["id"]
