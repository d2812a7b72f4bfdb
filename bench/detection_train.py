"""Object detection: the training job against a bare torchvision loop on the same LMDB, and
the quality a from-scratch SSDlite reaches on generated shapes within a time budget.

Overhead (``--mode overhead``): both train ``ssdlite320_mobilenet_v3_large`` from the same seed
on the same detection dataset (shapes built into a digitsx LMDB), same batch size, loader
processes and flip augmentation; digitsx is timed from its first training step to its last
train report (no validation split), the bare loop over the same epochs.

Quality (``--mode quality``): the job as a user runs it (Adam 0.001, batch 16, flip, 256
training and 64 validation images, validation every epoch) until ``--budget`` seconds of
training; prints validation mAP@0.5 against elapsed time.

    .venv/bin/python bench/detection_train.py --mode overhead [--epochs 2] [--repeats 2]
    .venv/bin/python bench/detection_train.py --mode quality [--budget 300]
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
NETWORK = "ssdlite320_mobilenet_v3_large"


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_dataset(tmp: Path, train: int, val: int) -> Path:
    from digitsx.detection import build
    from digitsx.detection.shapes import write_shapes
    from digitsx.jobs.protocol import Emitter

    shapes = write_shapes(tmp / "shapes", train, val, seed=3)
    job = tmp / f"dataset{train}"
    job.mkdir()
    spec = {"label_format": "voc", "data_roots": [str(tmp)], "seed": 0, "padding": None, "resize": None,
            "channel_conversion": "RGB", "val_min_box_size": 0, "custom_classes": [], "encoding": "png",
            "train": {"images": str(shapes / "images" / "train"), "labels": str(shapes / "voc" / "train")},
            "val": {"images": str(shapes / "images" / "val"), "labels": str(shapes / "voc" / "val")}
            if val else None, "pct_val": 0}
    (job / "spec.json").write_text(json.dumps(spec))
    build.run(job, Emitter(io.StringIO()))
    return job


def job_spec(dataset: Path, epochs: int, batch: int, workers: int, val: bool) -> dict:
    return {"dataset": {"dir": str(dataset)}, "network": {"method": "standard", "name": NETWORK},
            "solver": {"type": "ADAM", "learning_rate": 0.001}, "lr": {"policy": "fixed"},
            "train_epochs": epochs, "snapshot_interval": epochs if not val else 1000,
            "val_interval": 1, "random_seed": 1, "batch_size": batch, "shuffle": True,
            "augment": {"flip": "fliplr", "scale": 0, "color": 0}, "loader_workers": workers}


def run_job(job: Path, spec: dict, on_event=None) -> list[dict]:
    job.mkdir()
    (job / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, "-m", "digitsx.detection.train", str(job)],
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


def job_rate(dataset: Path, tmp: Path, args, run: int, images: int) -> float:
    events = run_job(tmp / f"model{run}", job_spec(dataset, args.epochs, args.batch, args.loader_workers, False))
    start = next(e["t"] for e in events if e["event"] == "log" and e["message"].startswith("training"))
    end = [e["t"] for e in events if e["event"] == "metric" and e["phase"] == "train"][-1]
    return images * args.epochs / (end - start)


def bare_rate(dataset: Path, args, images: int) -> float:
    """torchvision's detection reference loop, reduced: the same model, data and flip."""
    import torch
    from torchvision.models import detection

    from digitsx.detection.data import DetectionData, collate
    from digitsx.engine.data import loader

    torch.manual_seed(1)
    dev = torch.device(device())
    data = DetectionData(dataset)
    model = detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                    num_classes=len(data.labels)).to(dev)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    dl = loader(data.split("train"), args.batch, True, args.loader_workers, 1, dev.type == "cuda", None, collate)
    start = time.perf_counter()
    for _ in range(args.epochs):
        for imgs, boxes in dl:
            inputs, targets = [], []
            for image, rows in zip(imgs, boxes):
                x = image.to(dev).float() / 255
                rows = rows.to(dev)
                if torch.rand(()) < 0.5:
                    x = x.flip(-1)
                    rows = rows.clone()
                    rows[:, [0, 2]] = x.shape[-1] - rows[:, [2, 0]]
                keep = rows[:, 5] < 0.5
                inputs.append(x)
                targets.append({"boxes": rows[keep, :4], "labels": rows[keep, 4].long()})
            losses = model(inputs, targets)
            loss = sum(losses.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return images * args.epochs / (time.perf_counter() - start)


def overhead(args) -> None:
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_dataset(Path(tmp), args.images, 0)
        for run in range(args.repeats):  # alternating, so drift of a shared machine hits both
            bare.append(bare_rate(dataset, args, args.images))
            ours.append(job_rate(dataset, Path(tmp), args, run, args.images))
    print(f"{NETWORK}, {args.images} shapes images 192×192, batch {args.batch}, {args.epochs} epochs, "
          f"{device()}, {args.loader_workers} loader process(es), {args.repeats} alternating runs each")
    print("bare torchvision loop: " + ", ".join(f"{r:.1f}" for r in bare) + " images/s")
    print("digitsx job:           " + ", ".join(f"{r:.1f}" for r in ours) + " images/s")
    print(f"ratio of the best runs: {max(ours) / max(bare):.3f}; "
          f"of the medians: {sorted(ours)[len(ours) // 2] / sorted(bare)[len(bare) // 2]:.3f}")


def quality(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_dataset(Path(tmp), 256, 64)
        points, started = [], {}

        def on_event(e: dict):
            if e["event"] == "log" and e["message"].startswith("training"):
                started["t"] = e["t"]
            if e["event"] == "metric" and e["phase"] == "val":
                elapsed = e["t"] - started["t"]
                points.append((elapsed, e["epoch"], e["values"]["map_50"], e["values"]["map"]))
                print(f"{elapsed:6.0f} s  epoch {e['epoch']:>3}  mAP@0.5 {e['values']['map_50']:.3f}  "
                      f"mAP@0.5:0.95 {e['values']['map']:.3f}", flush=True)
                return elapsed < args.budget
            return None

        run_job(Path(tmp) / "quality", job_spec(dataset, 100, 16, args.loader_workers, True), on_event)
    within = [p for p in points if p[0] <= args.budget]
    best = max(within, key=lambda p: p[2]) if within else None
    first = next((p for p in points if p[2] >= 0.8), None)
    print(f"{NETWORK} from scratch, {device()}: best mAP@0.5 within {args.budget} s: "
          f"{best[2]:.3f} (epoch {best[1]}, {best[0]:.0f} s)" if best else "no validation within the budget")
    print(f"first mAP@0.5 ≥ 0.8 at {first[0]:.0f} s (epoch {first[1]})" if first else "mAP@0.5 never reached 0.8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("overhead", "quality"), default="overhead")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--loader-workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget", type=float, default=300)
    args = parser.parse_args()
    overhead(args) if args.mode == "overhead" else quality(args)


if __name__ == "__main__":
    main()
