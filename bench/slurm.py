"""Slurm against the local executor, on a throw-away two-node cluster on this machine
(``tests/slurm/cluster.py``: needs root, slurm-wlm and munge).

- **submit → first training step**: the same LeNet job submitted to this server and to the
  cluster (one node); the time from the job's creation to its first train metric point.
- **throughput**: 2 nodes × 1 core against 1 node × 1 core, the same global batch: training
  images per second over the job (the run's "training" phase).

    sudo .venv/bin/python bench/slurm.py [--epochs 6] [--per-class 200]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import servers, session, wait  # noqa: E402
from tests.slurm.cluster import Cluster, available  # noqa: E402


BATCH = 64


def first_step(s, url: str, job: str) -> float:
    """Seconds from the job's creation to its first train metric point."""
    created = s.get(f"{url}/jobs/{job}.json").json()["status_history"][0][1]
    points = [m for m in s.get(f"{url}/jobs/{job}/metrics.json").json()["metrics"] if m["phase"] == "train"]
    return min(p["t"] for p in points) - created if points and "t" in points[0] else float("nan")


def run(s, url: str, ds: str, epochs: int, **where) -> tuple[str, dict]:
    res = s.post(url + "/models/images/classification.json", data={
        "model_name": "bench", "dataset": ds, "train_epochs": epochs, "batch_size": BATCH,
        "random_seed": 1, "standard_networks": "lenet", **where})
    res.raise_for_status()
    job = res.json()["id"]
    wait(s, f"{url}/models/{job}/status", timeout=1800, poll=0.5)
    return job, s.get(f"{url}/jobs/{job}.json").json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--port", type=int, default=5781)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    global BATCH
    BATCH = args.batch
    if available():
        sys.exit(f"no cluster here: {available()}")
    from digitsx.classification.demo import write_mnist_folder

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        write_mnist_folder(tmp / "mnist", per_class=args.per_class)
        with Cluster(tmp / "cluster") as cluster:
            os.environ.update(cluster.env)
            env = {"DIGITSX_DATA_ROOTS": str(tmp), "DIGITSX_SLURM_PARTITIONS": "cpu"}
            with servers(tmp, (args.port, env)) as (url,):
                s = session(url)
                ds = s.post(url + "/datasets/images/classification.json", data={
                    "dataset_name": "mnist", "folder_train": str(tmp / "mnist"), "resize_channels": 1,
                    "resize_width": 28, "resize_height": 28}).json()["id"]
                wait(s, f"{url}/datasets/{ds}/status", poll=0.5)
                time.sleep(5)  # the prestarted local worker is ready, as on an idle server
                local, _ = run(s, url, ds, 1)
                one, one_job = run(s, url, ds, args.epochs, slurm_partition="cpu", nodes=1)
                two, two_job = run(s, url, ds, args.epochs, slurm_partition="cpu", nodes=2)
                starts = {k: first_step(s, url, j) for k, j in (("local", local), ("slurm", one))}
                ips = {k: j["result"].get("timings", {}).get("training") for k, j in (("1", one_job), ("2", two_job))}
                train_n = int(args.per_class * 10 * 0.75)
    print(f"LeNet on {train_n} MNIST digits, batch {BATCH} (global), a throw-away 2-node cluster on this machine, "
          f"each node 1 CPU (1 thread per process)")
    print(f"submit → first training step: local {starts['local']:.1f} s, Slurm {starts['slurm']:.1f} s "
          f"(+{starts['slurm'] - starts['local']:.1f} s)")
    if ips["1"] and ips["2"]:
        per_s = {k: train_n * args.epochs / v for k, v in ips.items()}
        print(f"training throughput, {args.epochs} epochs: 1 node × 1 core {per_s['1']:.0f} images/s, "
              f"2 nodes × 1 core {per_s['2']:.0f} images/s ({per_s['2'] / per_s['1']:.2f}×)")


if __name__ == "__main__":
    main()
