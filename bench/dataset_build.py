"""Dataset build speed: digitsx's worker against a bare Pillow loop on all cores, same run.

Generates a folder of photo-like JPEGs (about 500×375, 10 classes), then for each encoding
prints images/s of (a) a plain decode → resize 256×256 (squash) → encode loop spread over all
cores (threads and processes; the faster is the baseline) and (b) a real digitsx dataset job
(``python -m digitsx.classification.build``: parse, split, resize, encode, LMDB, mean, hashes), and
their ratio. Run: ``.venv/bin/python bench/dataset_build.py [--images 3000]``.
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_photos(folder: Path, n: int, classes: int = 10) -> None:
    """Photo-like JPEGs: smooth shapes, gradients and fine texture (so JPEG decode costs as
    it does for camera images, unlike flat synthetic colours)."""
    rng = np.random.default_rng(0)
    for i in range(n):
        w, h = (500, 375) if i % 4 else (375, 500)
        base = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(base).resize((w, h), Image.BICUBIC), np.float32)
        img += rng.normal(0, 12, (h, w, 3))  # sensor noise and texture
        d = folder / f"class_{i % classes}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"{i:05d}.jpg", quality=90)


def bare_one(path: str, encoding: str) -> int:
    image = Image.open(path).convert("RGB").resize((256, 256), Image.BILINEAR)
    if encoding == "none":
        return len(np.asarray(image).tobytes())
    buf = io.BytesIO()
    image.save(buf, format="JPEG" if encoding == "jpg" else "PNG",
               **({"quality": 90} if encoding == "jpg" else {"compress_level": 1}))
    return buf.tell()


def bare_rate(paths: list[str], encoding: str, kind: str) -> float:
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    if kind == "threads":
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda p: bare_one(p, encoding), paths))
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.starmap(bare_one, [(p, encoding) for p in paths], chunksize=16)
    return len(paths) / (time.perf_counter() - start)


def digitsx_rate(tree: Path, work: Path, encoding: str, parallel: str) -> tuple[float, float]:
    job = work / f"job-{encoding}-{parallel}"
    shutil.rmtree(job, ignore_errors=True)
    job.mkdir(parents=True)
    spec = {"method": "folder", "backend": "lmdb", "data_roots": [str(tree.parent)], "seed": 0,
            "workers": None, "parallel": parallel,
            "image": {"width": 256, "height": 256, "channels": 3, "resize_mode": "squash",
                      "encoding": encoding},
            "folder": {"train": str(tree), "archive": None, "pct_val": 25, "pct_test": 0,
                       "train_min": 2, "train_max": None}}
    (job / "spec.json").write_text(json.dumps(spec))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "digitsx.classification.build", str(job)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    meta = json.loads((job / "meta.json").read_text())
    stored = sum(s["entries"] for s in meta["splits"].values())
    return stored / wall, meta["size_bytes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--encodings", default="jpg,png,none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "data" / "photos"
        t = time.perf_counter()
        make_photos(tree, args.images)
        paths = sorted(str(p) for p in tree.rglob("*.jpg"))
        print(f"{len(paths)} JPEGs (500×375 and 375×500) generated in {time.perf_counter() - t:.0f}s; "
              f"{os.cpu_count()} cores; target 256×256 squash, colour")
        print(f"{'encoding':<9}{'bare thr/s':>11}{'bare proc/s':>12}{'digitsx thr/s':>14}"
              f"{'digitsx proc/s':>15}{'ratio':>7}  LMDB size")
        for encoding in args.encodings.split(","):
            bare = {k: bare_rate(paths, encoding, k) for k in ("threads", "processes")}
            ours = {k: digitsx_rate(tree, Path(tmp), encoding, k) for k in ("threads", "processes")}
            best_bare = max(bare.values())
            best_ours = max(r for r, _ in ours.values())
            print(f"{encoding:<9}{bare['threads']:>11.0f}{bare['processes']:>12.0f}"
                  f"{ours['threads'][0]:>14.0f}{ours['processes'][0]:>15.0f}"
                  f"{best_ours / best_bare:>7.2f}  {ours['threads'][1] / 2**20:.0f} MiB")
        print("ratio = best digitsx rate / best bare rate (digitsx includes process start, "
              "folder parse, LMDB writes, mean image and duplicate hashes)")


if __name__ == "__main__":
    main()
