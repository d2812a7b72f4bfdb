"""Training throughput on a GPU: digitsx jobs against a bare loop with the data already decoded
in GPU memory, in the same run.

A synthetic JPEG dataset (``--images`` photos-like 256×256 images, 10 classes) is built through
a real server (REST, ``encoding=jpg``, resized to ``--size``). Then for each network (ResNet-18
at batch 256, ResNet-50 at batch 128 by default):

- the **digitsx job** (submitted over REST; AMP and channels_last on, as the form's defaults):
  its steady images/s (the median of the reports after the first epoch) and the time from the
  POST to the start of its first step (the ``training ...`` log line);
- the **bare loop**: the same torchvision network, AMP (float16) + channels_last +
  ``cudnn.benchmark``, SGD, the whole split decoded once and held on the GPU, timed over the
  epochs after the first.

``--path stream`` sets ``DIGITSX_IN_MEMORY_MB=0`` for the server, so the job streams LMDB
records through loader processes and decodes the JPEG batches on the GPU (nvJPEG) instead of
holding the decoded split; ``--path memory`` (the default for a split this size) holds it.

    python bench/train_gpu.py [--images 5760] [--size 224] [--epochs 4] [--path memory|stream]
                              [--networks resnet18:256,resnet50:128]

On a machine without a GPU it runs on the CPU (use tiny settings: ``--images 64 --size 32
--epochs 2 --networks resnet18:16``): a check that the script works, not a figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import wait  # noqa: E402


def make_images(folder: Path, n: int, classes: int = 10, side: int = 256) -> None:
    """Photo-like JPEGs: smooth colour fields plus noise, a class-dependent tint."""
    rng = np.random.default_rng(0)
    for i in range(n):
        c = i % classes
        out = folder / f"class{c}"
        out.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)
        image = Image.fromarray(base).resize((side, side), Image.BILINEAR)
        pixels = np.asarray(image).astype(np.int16) + rng.integers(-20, 20, (side, side, 3))
        pixels[..., c % 3] = np.clip(pixels[..., c % 3] + 40, 0, 255)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out / f"{i}.jpg", quality=90)


def job_figures(s, url: str, jobs: Path, dataset: str, network: str, batch: int,
                epochs: int) -> tuple[float, float, str]:
    """(steady images/s, seconds from POST to the first step, the job's phase line)."""
    posted = time.time()
    reply = s.post(url + "/models/images/classification.json", data={
        "model_name": f"{network}-{batch}", "dataset": dataset, "standard_networks": network,
        "train_epochs": epochs, "batch_size": batch, "learning_rate": 0.01, "random_seed": 1,
        "lr_policy": "fixed", "snapshot_interval": epochs, "val_interval": epochs})
    reply.raise_for_status()
    job = reply.json()["id"]
    wait(s, f"{url}/models/{job}/status", timeout=3600, poll=0.25)
    events = [json.loads(line) for line in (jobs / job / "events.jsonl").read_text().splitlines()]
    start = next(e["t"] for e in events if e["event"] == "log" and e["message"].startswith("training "))
    rates = [e["values"]["images_per_second"] for e in events
             if e["event"] == "metric" and e["phase"] == "train" and e["epoch"] > 1]
    phase = next((e["message"] for e in events if e["event"] == "log" and e["message"].startswith("phases:")), "")
    data = next((e["message"].split("; data ", 1)[-1] for e in events
                 if e["event"] == "log" and e["message"].startswith("training ")), "")
    return (statistics.median(rates) if rates else float("nan")), start - posted, f"{data}; {phase}"


def bare_figures(dataset: Path, network: str, batch: int, epochs: int) -> float:
    """Images/s of a bare AMP loop over the decoded split held on the device."""
    import torch
    import torch.nn.functional as F
    import torchvision

    from digitsx.models.data import DatasetInfo

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    info = DatasetInfo(dataset)
    split = info.split("train")
    images = torch.stack([split[i][0] for i in range(len(split))]).to(device)
    labels = torch.tensor([split[i][1] for i in range(len(split))]).to(device)
    model = getattr(torchvision.models, network)(weights=None, num_classes=len(info.labels)).to(device)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    mean = (info.mean() / 255.0).to(device)
    seen, start = 0, 0.0
    for epoch in range(epochs):
        if epoch == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start, seen = time.perf_counter(), 0
        for idx in torch.randperm(len(images), device=device).split(batch):
            x = (images[idx].float() / 255.0 - mean).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, enabled=device.type == "cuda", dtype=torch.float16):
                loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            seen += len(idx)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5760)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--path", choices=("memory", "stream"), default="memory")
    parser.add_argument("--networks", default="resnet18:256,resnet50:128")
    parser.add_argument("--port", type=int, default=5741)
    args = parser.parse_args()
    if args.path == "stream":
        os.environ["DIGITSX_IN_MEMORY_MB"] = "0"
    from bench._server import server

    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        made = time.time()
        make_images(tmp / "photos", args.images)
        print(f"{args.images} JPEGs written in {time.time() - made:.0f} s", flush=True)
        with server(tmp, args.port) as (url, s):
            ds = s.post(url + "/datasets/images/classification.json", data={
                "dataset_name": "photos", "folder_train": str(tmp / "photos"), "folder_pct_val": 5,
                "resize_width": args.size, "resize_height": args.size, "resize_channels": 3,
                "encoding": "jpg"}).json()
            built = time.time()
            wait(s, f"{url}/datasets/{ds['id']}/status", timeout=3600)
            print(f"dataset built through the server in {time.time() - built:.0f} s", flush=True)
            for item in args.networks.split(","):
                network, batch = item.split(":")
                ours, first_step, phases = job_figures(s, url, tmp / "jobs", ds["id"], network,
                                                       int(batch), args.epochs)
                bare = bare_figures(tmp / "jobs" / ds["id"], network, int(batch), args.epochs)
                rows.append((network, int(batch), ours, bare, first_step, phases))
                print(f"{network} batch {batch}: job {ours:.0f} img/s, bare {bare:.0f} img/s, "
                      f"ratio {ours / bare:.2f}, submit → first step {first_step:.1f} s", flush=True)
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (no GPU)"
    print(f"\n{device}; {args.images} JPEG images {args.size}×{args.size}, {args.epochs} epochs, "
          f"data path: {args.path}")
    print(f"{'network':<10}{'batch':>6}{'job img/s':>11}{'bare img/s':>12}{'ratio':>7}{'first step':>12}")
    for network, batch, ours, bare, first_step, phases in rows:
        print(f"{network:<10}{batch:>6}{ours:>11.0f}{bare:>12.0f}{ours / bare:>7.2f}{first_step:>11.1f}s")
        print(f"    job: {phases}")


if __name__ == "__main__":
    main()
