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

The default **detection** network (SSDlite 320, batch 32) and the default **segmentation**
network (LR-ASPP MobileNetV3, batch 32) run the same way on generated shapes (``--shapes``
images; detection 320×320 with VOC boxes, segmentation ``--seg-size`` square with palette
labels, both JPEG-encoded), built through the same server. Their jobs run with augmentation
off so both sides do the same work; their bare loops hold the decoded split on the GPU, AMP
(+ channels_last for segmentation), Adam as the form's default.

``--path stream`` sets ``DIGITSX_IN_MEMORY_MB=0`` for the server, so the job streams LMDB
records through loader processes and decodes the JPEG batches on the GPU (nvJPEG) instead of
holding the decoded split; ``--path memory`` (the default for a split this size) holds it.

    python bench/train_gpu.py [--images 5760] [--size 224] [--epochs 4] [--path memory|stream]
                              [--networks resnet18:256,resnet50:128]
                              [--tasks classification,detection,segmentation]
                              [--detection ssdlite320_mobilenet_v3_large:32]
                              [--segmentation lraspp_mobilenet_v3_large:32] [--shapes 2048]

On a machine without a GPU it runs on the CPU (use tiny settings: ``--images 64 --size 32
--epochs 2 --networks resnet18:16 --shapes 32 --seg-size 64 --detection
ssdlite320_mobilenet_v3_large:8 --segmentation lraspp_mobilenet_v3_large:8``): a check that
the script works, not a figure.
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


def job_figures(s, url: str, jobs: Path, route: str, fields: dict) -> tuple[float, float, str]:
    """(steady images/s, seconds from POST to the first step, the job's data and phase lines)."""
    posted = time.time()
    reply = s.post(url + route, data=fields)
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


def classification_job(dataset: str, network: str, batch: int, epochs: int) -> tuple[str, dict]:
    return "/models/images/classification.json", {
        "model_name": f"{network}-{batch}", "dataset": dataset, "standard_networks": network,
        "train_epochs": epochs, "batch_size": batch, "learning_rate": 0.01, "random_seed": 1,
        "lr_policy": "fixed", "snapshot_interval": epochs, "val_interval": epochs}


def generic_job(dataset: str, network: str, batch: int, epochs: int) -> tuple[str, dict]:
    """A detection or segmentation job (the dataset picks the task): the form's solver (Adam
    0.001), augmentation off so the bare loop does the same work."""
    return "/models/images/generic.json", {
        "model_name": f"{network}-{batch}", "dataset": dataset, "standard_networks": network,
        "train_epochs": epochs, "batch_size": batch, "random_seed": 1, "snapshot_interval": epochs,
        "val_interval": epochs, "aug_flip": "none", "aug_scale": 0, "aug_color": 0}


def timed(epochs: int, run_epoch, device) -> float:
    """Seconds over the epochs after the first (cuDNN's autotuning and allocations)."""
    import torch

    start = 0.0
    for epoch in range(epochs):
        if epoch == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        run_epoch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def amp_step(opt, scaler, device, loss_of) -> None:
    """One optimizer step on ``loss_of()`` under AMP (float16 on CUDA, off on the CPU)."""
    import torch

    with torch.autocast(device.type, enabled=device.type == "cuda", dtype=torch.float16):
        loss = loss_of()
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


def bare_detection(dataset: Path, network: str, batch: int, epochs: int) -> float:
    """Images/s of a bare AMP loop (torchvision's detection reference, reduced) over the
    decoded split held on the device: the same detector (channels_last, as the job's), Adam
    0.001, no augmentation."""
    import torch

    from digitsx.detection.data import DetectionData
    from digitsx.detection.networks import build_network

    torch.manual_seed(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    data = DetectionData(dataset)
    split = data.split("train")
    images, targets = [], []
    for i in range(len(split)):
        image, rows = split[i]
        images.append((image.to(device).float() / 255).expand(3, -1, -1))
        keep = rows[:, 5] < 0.5
        targets.append({"boxes": rows[keep, :4].to(device), "labels": rows[keep, 4].long().to(device)})
    model = build_network({"method": "standard", "name": network}, len(data.labels),
                          (data.width, data.height)).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")

    def run_epoch() -> None:
        for idx in torch.randperm(len(images)).split(batch):
            amp_step(opt, scaler, device, lambda: sum(model([images[i] for i in idx], [targets[i] for i in idx]).values()))

    return len(images) * (epochs - 1) / timed(epochs, run_epoch, device)


def bare_segmentation(dataset: Path, network: str, batch: int, epochs: int) -> float:
    """Images/s of a bare AMP + channels_last loop over the decoded split held on the device:
    the same network, Adam 0.001, cross-entropy ignoring 255, no augmentation."""
    import torch
    import torch.nn.functional as F

    from digitsx.segmentation.data import SegmentationData
    from digitsx.segmentation.networks import build_network

    torch.manual_seed(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    data = SegmentationData(dataset)
    split = data.split("train")
    pairs = [split[i] for i in range(len(split))]
    images = torch.stack([p[0] for p in pairs]).to(device)
    labels = torch.stack([p[1] for p in pairs]).to(device)
    model = build_network({"method": "standard", "name": network}, len(data.labels), images.shape[1])
    model = model.to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")

    def run_epoch() -> None:
        for idx in torch.randperm(len(images), device=device).split(batch):
            x = (images[idx].float() / 255).contiguous(memory_format=torch.channels_last)
            amp_step(opt, scaler, device, lambda: F.cross_entropy(model(x), labels[idx].long(), ignore_index=255))

    return len(images) * (epochs - 1) / timed(epochs, run_epoch, device)


def bare_classification(dataset: Path, network: str, batch: int, epochs: int) -> float:
    """Images/s of a bare AMP loop over the decoded split held on the device."""
    import torch
    import torch.nn.functional as F
    import torchvision

    from digitsx.classification.data import DatasetInfo

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

    def run_epoch() -> None:
        for idx in torch.randperm(len(images), device=device).split(batch):
            x = (images[idx].float() / 255.0 - mean).contiguous(memory_format=torch.channels_last)
            amp_step(opt, scaler, device, lambda: F.cross_entropy(model(x), labels[idx]))

    return len(images) * (epochs - 1) / timed(epochs, run_epoch, device)


def build(s, url: str, route: str, fields: dict) -> str:
    """A dataset built through the server; its id."""
    reply = s.post(url + route, data=fields)
    if reply.status_code >= 400:
        raise SystemExit(f"{route}: {reply.status_code} {reply.text[:2000]}")
    ds = reply.json()["id"]
    built = time.time()
    wait(s, f"{url}/datasets/{ds}/status", timeout=3600)
    print(f"{route.rsplit('/', 1)[-1]}: dataset built through the server in {time.time() - built:.0f} s",
          flush=True)
    return ds


def datasets(s, url: str, tmp: Path, args, tasks: list[str]) -> dict[str, str]:
    """Each asked task's dataset id, built through the server."""
    ids = {}
    if "classification" in tasks:
        made = time.time()
        make_images(tmp / "photos", args.images)
        print(f"{args.images} JPEGs written in {time.time() - made:.0f} s", flush=True)
        ids["classification"] = build(s, url, "/datasets/images/classification.json", {
            "dataset_name": "photos", "folder_train": str(tmp / "photos"), "folder_pct_val": 5,
            "resize_width": args.size, "resize_height": args.size, "resize_channels": 3,
            "encoding": "jpg"})
    val = max(args.shapes // 16, 1)
    if "detection" in tasks:
        from digitsx.detection.shapes import write_shapes

        boxes = write_shapes(tmp / "boxes", args.shapes, val, width=320, height=320, seed=3)
        ids["detection"] = build(s, url, "/datasets/generic/create/image-object-detection.json", {
            "dataset_name": "boxes", "label_format": "voc",
            "train_image_folder": str(boxes / "images" / "train"), "train_label_folder": str(boxes / "voc" / "train"),
            "val_image_folder": str(boxes / "images" / "val"), "val_label_folder": str(boxes / "voc" / "val"),
            "padding_image_width": "", "padding_image_height": "", "val_min_box_size": 0,
            "dsopts_feature_encoding": "jpg"})
    if "segmentation" in tasks:
        from digitsx.segmentation.shapes import write_shapes

        shapes = write_shapes(tmp / "regions", args.shapes, val, width=args.seg_size, height=args.seg_size, seed=3)
        ids["segmentation"] = build(s, url, "/datasets/generic/create/image-segmentation.json", {
            "dataset_name": "regions", "feature_folder": str(shapes / "images" / "train"),
            "label_folder": str(shapes / "palette" / "train"), "has_val_folder": "y",
            "validation_feature_folder": str(shapes / "images" / "val"),
            "validation_label_folder": str(shapes / "palette" / "val"),
            "class_labels_file": str(shapes / "classes.txt"), "colormap_method": "label",
            "channel_conversion": "RGB", "dsopts_feature_encoding": "jpg"})
    return ids


CASES = {  # task: (the job's route and fields, the bare loop)
    "classification": (classification_job, bare_classification),
    "detection": (generic_job, bare_detection),
    "segmentation": (generic_job, bare_segmentation),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5760)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--path", choices=("memory", "stream"), default="memory")
    parser.add_argument("--networks", default="resnet18:256,resnet50:128")
    parser.add_argument("--tasks", default="classification,detection,segmentation")
    parser.add_argument("--detection", default="ssdlite320_mobilenet_v3_large:32")
    parser.add_argument("--segmentation", default="lraspp_mobilenet_v3_large:32")
    parser.add_argument("--shapes", type=int, default=2048, help="detection and segmentation images")
    parser.add_argument("--seg-size", type=int, default=256)
    parser.add_argument("--settle", type=float, default=10,
                        help="seconds between the last dataset and the first job: the server's "
                             "prestarted worker imports torch once nothing runs, as between a "
                             "user's clicks (0: measure a job posted the instant a dataset ends)")
    parser.add_argument("--port", type=int, default=5741)
    args = parser.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = set(tasks) - set(CASES)
    if unknown:
        parser.error(f"--tasks: unknown {', '.join(sorted(unknown))} (one of {', '.join(CASES)})")
    if args.path == "stream":
        os.environ["DIGITSX_IN_MEMORY_MB"] = "0"
    from bench._server import server

    runs = {"classification": args.networks, "detection": args.detection, "segmentation": args.segmentation}
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with server(tmp, args.port) as (url, s):
            ids = datasets(s, url, tmp, args, tasks)
            time.sleep(args.settle)
            for task in tasks:
                job_fields, bare_loop = CASES[task]
                for item in runs[task].split(","):
                    network, batch = item.split(":")
                    route, fields = job_fields(ids[task], network, int(batch), args.epochs)
                    ours, first_step, phases = job_figures(s, url, tmp / "jobs", route, fields)
                    bare = bare_loop(tmp / "jobs" / ids[task], network, int(batch), args.epochs)
                    rows.append((network, int(batch), ours, bare, first_step, phases))
                    print(f"{network} batch {batch}: job {ours:.0f} img/s, bare {bare:.0f} img/s, "
                          f"ratio {ours / bare:.2f}, submit → first step {first_step:.1f} s", flush=True)
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (no GPU)"
    data = {"classification": f"{args.images} JPEG images {args.size}×{args.size}",
            "detection": f"{args.shapes} shapes 320×320", "segmentation": f"{args.shapes} shapes {args.seg_size}×{args.seg_size}"}
    print(f"\n{device}; {args.epochs} epochs, data path: {args.path}; "
          + "; ".join(f"{task}: {data[task]}" for task in tasks))
    print(f"{'network':<34}{'batch':>6}{'job img/s':>11}{'bare img/s':>12}{'ratio':>7}{'first step':>12}")
    for network, batch, ours, bare, first_step, phases in rows:
        print(f"{network:<34}{batch:>6}{ours:>11.0f}{bare:>12.0f}{ours / bare:>7.2f}{first_step:>11.1f}s")
        print(f"    job: {phases}")


if __name__ == "__main__":
    main()
