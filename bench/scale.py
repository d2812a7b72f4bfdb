"""Job lists at 100, 1,000 and 10,000 finished jobs, against a real server: the home page and a
page of ``/index.json`` (p50 of sequential requests, and the 10,000 / 100 ratio measured in
this run), 50 concurrent clients at the largest N, and a job of 200,000 metric points (its
graph's data, and other requests while every point is read).

    .venv/bin/python bench/scale.py [--sizes 100,1000,10000] [--seconds 30] [--clients 50]

The jobs are copies of one finished classification model's rows as a real run leaves them (its
spec, a result with its metric summary and snapshots, a four-step timeline, 30 epochs of
metrics), written straight into the database before the server starts.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import threading
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import pct, session, start  # noqa: E402

SPEC = {"dataset": {"id": "", "path": "/data/mnist"}, "network": {"method": "standard", "name": "lenet"},
        "solver": {"type": "sgd", "momentum": 0.9, "weight_decay": 0.0005}, "lr": {"base_lr": 0.01, "policy": "step"},
        "batch_size": 64, "train_epochs": 30, "augment": {"flip": "none", "use_mean": "image"},
        "form": {f"field_{i}": "x" * 20 for i in range(40)}}


def result(i: int) -> dict:
    columns = {f"{m} ({p})": {"last": 0.1 * (i % 7), "min": 0.01, "max": 90.0 + i % 10}
               for m in ("loss", "accuracy", "accuracy_top5") for p in ("train", "val")}
    return {"metric_summary": {"columns": columns, "loss_tail": [1.0 / (k + 1) for k in range(40)]},
            "snapshots": [{"epoch": e, "file": f"snapshot_epoch_{e}.pt"} for e in range(1, 31)],
            "labels": [str(k) for k in range(10)], "parameters": 431080,
            "timings": {"start-up": 1.2, "training": 40.0, "validation": 3.0}}


def populate(jobs_dir: Path, n: int, long_points: int = 0) -> str:
    """``n`` finished model jobs (and, with ``long_points``, one more with that many train
    points); returns the id of the last."""
    from digitsx import create_app
    from digitsx.db import Job, Metric, StatusChange
    from digitsx.jobs import listing
    from digitsx.models import CLASSIFICATION

    jobs_dir.mkdir(parents=True, exist_ok=True)
    app = create_app({"JOBS_DIR": str(jobs_dir), "SCHEDULER_AUTOSTART": False, "SECRET_KEY": "bench",
                      "PRESTART_WORKER": False})
    db = app.extensions["digitsx"].store.db
    try:
        now = time.time() - n * 60
        last = ""
        for first in range(0, n, 1000):
            with db.session() as s:
                for i in range(first, min(n, first + 1000)):
                    job_id = f"20260101-{i:06d}-bench"
                    job = Job(id=job_id, kind=CLASSIFICATION, name=f"lenet run {i}", group_name=f"sweep {i // 20}",
                              username=f"user{i % 5}", notes="", status="Done", progress=1.0,
                              spec_json=json.dumps(SPEC), result_json=json.dumps(result(i)), created=now + i * 60,
                              started=now + i * 60 + 1, finished=now + i * 60 + 45)
                    job.history = [StatusChange(status=st, timestamp=now + i * 60 + k)
                                   for k, st in enumerate(("Initialized", "Waiting", "Running", "Done"))]
                    for key, value in listing.kept(job, "MNIST digits").items():
                        setattr(job, key, value)
                    s.add(job)
                    s.add_all(Metric(job_id=job_id, phase=ph, epoch=float(e), step=e * 100,
                                     values_json=json.dumps({"loss": 1.0 / e, "accuracy": 90.0 + e / 10}),
                                     timestamp=now + i * 60 + e) for e in range(1, 31) for ph in ("train", "val"))
                    last = job_id
        if long_points:
            with db.session() as s:
                job = Job(id="20260102-000000-long", kind=CLASSIFICATION, name="a long job", status="Done",
                          spec_json=json.dumps(SPEC), result_json="{}", created=time.time(), progress=1.0)
                for key, value in listing.kept(job, "").items():
                    setattr(job, key, value)
                s.add(job)
            for first in range(0, long_points, 20000):
                with db.session() as s:
                    s.add_all(Metric(job_id="20260102-000000-long", phase="train", epoch=k / 1000, step=k,
                                     values_json=json.dumps({"loss": 1.0 / (1 + k % 500), "accuracy": k % 100,
                                                             "learning_rate": 0.01}), timestamp=float(k))
                              for k in range(first, min(long_points, first + 20000)))
            last = "20260102-000000-long"
        return last
    finally:
        app.extensions["digitsx"].stop()


def p50(s: requests.Session, url: str, n: int = 100, headers: dict | None = None) -> float:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        res = s.get(url, headers=headers)
        assert res.ok, (url, res.status_code)
        out.append((time.perf_counter() - start) * 1000)
    return statistics.median(out)


def unshared(s: requests.Session, url: str, pages: int) -> float:
    """p50 of pages each asked for once (``page=1..pages``, sorted by name): each is listed
    afresh, none is the answer shared with an earlier request for the same page."""
    out = []
    for k in range(1, pages + 1):
        start = time.perf_counter()
        assert s.get(f"{url}/index.json?per_page=50&sort=name&page={k}").ok
        out.append((time.perf_counter() - start) * 1000)
    return statistics.median(out)


def _client(url: str, seconds: float, threads: int, queue, fresh: int = 0) -> None:
    import os
    import random

    os.nice(5)  # the clients stand for remote browsers: the server's process comes first
    s_lat, errors = [], 0
    lock = threading.Lock()

    def loop():
        nonlocal errors
        s = session(url.split("/index.json")[0], "load")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            asked = f"{url}&page={random.randint(1, fresh)}&sort={random.choice(('name', 'created', 'status'))}" \
                if fresh else url
            try:
                ok = s.get(asked, timeout=30).ok
            except requests.RequestException:
                ok = False
            with lock:
                s_lat.append((time.perf_counter() - start) * 1000)
                errors += 0 if ok else 1

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    queue.put((s_lat, errors))


def load(url: str, clients: int, seconds: float, fresh: int = 0) -> tuple[list[float], int]:
    """``clients`` concurrent clients (in processes of 10 threads, a little below the server's
    priority, standing for remote browsers) for ``seconds``; ``fresh``: each request a random
    one of that many pages and a random sort (mostly listed afresh, not shared)."""
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_client, args=(url, seconds, min(10, clients - k), queue, fresh))
             for k in range(0, clients, 10)]
    [p.start() for p in procs]
    results = [queue.get() for _ in procs]
    [p.join() for p in procs]
    return [x for r in results for x in r[0]], sum(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--long", type=int, default=200_000)
    parser.add_argument("--port", type=int, default=5098)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = Path(tmp) / f"n{n}"
            t0 = time.time()
            long_id = populate(folder / "jobs", n, args.long if n == sizes[-1] else 0)
            made = time.time() - t0
            url = f"http://127.0.0.1:{args.port}"
            proc = start(args.port, folder, folder / "jobs", DIGITSX_PRESTART_WORKER="0")
            try:
                s = session(url)
                s.get(url + "/index.json?per_page=50")
                home = p50(s, url + "/", headers={"Accept": "text/html"})  # the page a browser opens
                page = p50(s, url + "/index.json?per_page=50")
                models = p50(s, url + "/index.json?per_page=50&category=model&sort=main_metric&tabs=1")
                fresh = unshared(s, url, min(100, max(1, n // 50)))
                figures[n] = (home, page, models)
                print(f"N={n:>6} (made in {made:.0f} s): / p50 {home:.1f} ms, /index.json?per_page=50 p50 {page:.1f} ms, "
                      f"models by main metric with tab counts p50 {models:.1f} ms; a page not asked for before "
                      f"(listed afresh, not shared) p50 {fresh:.1f} ms", flush=True)
                if n == sizes[-1]:
                    lat, errors = load(url + "/index.json?per_page=50", args.clients, args.seconds)
                    print(f"N={n}: {args.clients} clients for {args.seconds:g} s: {len(lat)} requests, "
                          f"p50 {pct(lat, .5):.0f} ms, p99 {pct(lat, .99):.0f} ms, {errors} errors", flush=True)
                    lat, errors = load(url + "/index.json?per_page=50", args.clients, args.seconds, fresh=n // 50)
                    print(f"N={n}: {args.clients} clients for {args.seconds:g} s, each request a random page of "
                          f"{n // 50} and a random sort: {len(lat)} requests, p50 {pct(lat, .5):.0f} ms, "
                          f"p99 {pct(lat, .99):.0f} ms, {errors} errors", flush=True)
                    if args.long:
                        long_figures(s, url, long_id)
            finally:
                proc.terminate()
                proc.wait(10)
    if len(sizes) > 1:
        a, b = figures[sizes[0]], figures[sizes[-1]]
        print(f"ratio N={sizes[-1]} / N={sizes[0]}: / {b[0] / a[0]:.2f}x, /index.json?per_page=50 {b[1] / a[1]:.2f}x, "
              f"models by main metric {b[2] / a[2]:.2f}x")


def graph_seconds(url: str, job_id: str) -> float | None:
    """Seconds from opening the long job's page in chromium to its graph drawn (None without
    chromium)."""
    import shutil

    exe = shutil.which("chromium")
    if exe is None:
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(url + "/login")
        page.fill("#username", "viewer")
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        times = []
        for _ in range(3):
            start = time.perf_counter()
            page.goto(f"{url}/models/{job_id}")
            page.wait_for_function("(window.dxChartPoints || 0) > 0", timeout=60000)
            times.append(time.perf_counter() - start)
        browser.close()
    return statistics.median(times)


def long_figures(s, url: str, job_id: str) -> None:
    start = time.perf_counter()
    thin = s.get(f"{url}/models/{job_id}/metrics.json?max_points=2000")
    took = time.perf_counter() - start
    print(f"long job ({len(thin.json()['metrics'])} graph points): "
          f"metrics.json?max_points=2000 {len(thin.content) / 1e6:.2f} MB in {took * 1000:.0f} ms", flush=True)
    drawn = graph_seconds(url, job_id)
    if drawn is not None:
        print(f"long job: its page opened to the graph drawn in chromium: {drawn:.2f} s (median of 3)", flush=True)
    idle = [p50(s, url + "/index.json?per_page=50", 30)]
    during: list[float] = []
    reader = multiprocessing.Process(target=_read_all, args=(url, job_id))  # its own GIL
    reader.start()
    while reader.is_alive():
        t = time.perf_counter()
        s.get(url + "/index.json?per_page=50")
        during.append((time.perf_counter() - t) * 1000)
    reader.join()
    print(f"long job: /index.json?per_page=50 p50 {idle[0]:.1f} ms idle, {statistics.median(during):.1f} ms "
          f"(max {max(during):.0f} ms) while every point is read: {statistics.median(during) / idle[0]:.2f}x", flush=True)


def _read_all(url: str, job_id: str) -> None:
    other = session(url, "reader")
    t = time.perf_counter()
    res = other.get(f"{url}/models/{job_id}/metrics.json")
    print(f"long job: every point (metrics.json) {len(res.content) / 1e6:.1f} MB in "
          f"{time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
