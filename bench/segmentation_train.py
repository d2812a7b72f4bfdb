"""Segmentation: the training job against a bare PyTorch loop on the same LMDB, and the mIoU a
from-scratch network reaches on generated shapes within a time budget.

    .venv/bin/python bench/segmentation_train.py --mode overhead [--epochs 2] [--repeats 2]
    .venv/bin/python bench/segmentation_train.py --mode quality [--budget 300] [--network lraspp_mobilenet_v3_large]
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_dataset(tmp: Path, train: int, val: int, size: int) -> Path:
    from digitsx.jobs.protocol import Emitter
    from digitsx.segmentation import build
    from digitsx.segmentation.shapes import write_shapes

    shapes = write_shapes(tmp / "shapes", train, max(val, 1), width=size, height=size, seed=3)
    job = tmp / f"dataset{train}"
    job.mkdir()
    spec = {"train": {"features": str(shapes / "images" / "train"), "labels": str(shapes / "palette" / "train")},
            "val": {"features": str(shapes / "images" / "val"), "labels": str(shapes / "palette" / "val")} if val else None,
            "pct_val": 0, "seed": 0, "colormap_method": "label", "class_labels_file": str(shapes / "classes.txt"),
            "channel_conversion": "RGB", "encoding": "png", "resize": None}
    (job / "spec.json").write_text(json.dumps(spec))
    build.run(job, Emitter(io.StringIO()))
    return job


def job_spec(dataset: Path, network: str, epochs: int, batch: int, workers: int, lr: float) -> dict:
    return {"dataset": {"dir": str(dataset)}, "network": {"method": "standard", "name": network},
            "solver": {"type": "ADAM", "learning_rate": lr}, "lr": {"policy": "fixed"},
            "train_epochs": epochs, "snapshot_interval": 1000, "val_interval": 1, "random_seed": 1,
            "batch_size": batch, "shuffle": True, "augment": {"flip": "fliplr", "scale": 0, "color": 0},
            "loader_workers": workers}


def run_job(job: Path, spec: dict, on_event=None) -> list[dict]:
    job.mkdir()
    (job / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, "-m", "digitsx.segmentation.train", str(job)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    events = []
    for line in proc.stdout:
        event = json.loads(line)
        events.append(event)
        if on_event is not None and on_event(event) is False:
            proc.kill()
            break
    proc.wait()
    if proc.returncode not in (0, -9):
        raise RuntimeError(proc.stderr.read()[-3000:])
    return events


def bare_rate(dataset: Path, args) -> float:
    import torch
    import torch.nn.functional as F

    from digitsx.engine.data import loader
    from digitsx.segmentation.data import SegmentationData
    from digitsx.segmentation.networks import build_network

    torch.manual_seed(1)
    dev = torch.device(device())
    data = SegmentationData(dataset)
    model = build_network({"method": "standard", "name": args.network}, len(data.labels), 3).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    split = data.split("train")
    dl = loader(split, args.batch, True, args.loader_workers, 1, dev.type == "cuda")
    start = time.perf_counter()
    for _ in range(args.epochs):
        for images, labels in dl:
            x = images.to(dev).float() / 255
            y = labels.to(dev).long()
            flip = torch.rand(x.shape[0], device=dev) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            y = torch.where(flip[:, None, None], y.flip(-1), y)
            loss = F.cross_entropy(model(x), y, ignore_index=255)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return len(split) * args.epochs / (time.perf_counter() - start)


def overhead(args) -> None:
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_dataset(Path(tmp), args.images, 0, args.size)
        for run in range(args.repeats):
            bare.append(bare_rate(dataset, args))
            events = run_job(Path(tmp) / f"model{run}", job_spec(dataset, args.network, args.epochs, args.batch,
                                                                 args.loader_workers, args.lr))
            start = next(e["t"] for e in events if e["event"] == "log" and e["message"].startswith("training"))
            end = [e["t"] for e in events if e["event"] == "metric" and e["phase"] == "train"][-1]
            ours.append(args.images * args.epochs / (end - start))
    print(f"{args.network}, {args.images} shapes images {args.size}×{args.size}, batch {args.batch}, "
          f"{args.epochs} epochs, {device()}, {args.repeats} alternating runs each")
    print("bare PyTorch loop: " + ", ".join(f"{r:.1f}" for r in bare) + " images/s")
    print("digitsx job:       " + ", ".join(f"{r:.1f}" for r in ours) + " images/s")
    print(f"ratio of the best runs: {max(ours) / max(bare):.3f}; "
          f"of the medians: {sorted(ours)[len(ours) // 2] / sorted(bare)[len(bare) // 2]:.3f}")


def quality(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_dataset(Path(tmp), 256, 64, args.size)
        points, started = [], {}

        def on_event(e: dict):
            if e["event"] == "log" and e["message"].startswith("training"):
                started["t"] = e["t"]
            if e["event"] == "metric" and e["phase"] == "val":
                elapsed = e["t"] - started["t"]
                points.append((elapsed, e["epoch"], e["values"]["miou"]))
                print(f"{elapsed:6.0f} s  epoch {e['epoch']:>3}  mIoU {e['values']['miou']:.3f}  "
                      f"pixel accuracy {e['values']['accuracy']:.1f}%", flush=True)
                return elapsed < args.budget
            return None

        run_job(Path(tmp) / "quality", job_spec(dataset, args.network, 200, args.batch, args.loader_workers, args.lr),
                on_event)
    within = [p for p in points if p[0] <= args.budget]
    best = max(within, key=lambda p: p[2]) if within else None
    print(f"{args.network} from scratch, {device()}: best mIoU within {args.budget:.0f} s: "
          f"{best[2]:.3f} (epoch {best[1]}, {best[0]:.0f} s)" if best else "no validation within the budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("overhead", "quality"), default="overhead")
    parser.add_argument("--network", default="lraspp_mobilenet_v3_large")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--loader-workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget", type=float, default=300)
    args = parser.parse_args()
    overhead(args) if args.mode == "overhead" else quality(args)


if __name__ == "__main__":
    main()
