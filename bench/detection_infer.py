"""Detection infer_one latency over keep-alive HTTP against the bare forward pass, same run.

Starts a real server, builds a shapes detection dataset and trains SSDlite for one epoch, sends
N keep-alive infer_one requests and prints p50/p99 of: total (client side), preprocessing and
forward (as the warm worker measured them), server overhead = total − preprocessing − forward,
and the bare forward pass of the same snapshot timed in this process.

    .venv/bin/python bench/detection_infer.py [--requests 100]
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    import torch
    from _server import pct, server, wait

    from digitsx.detection.infer import Detector
    from digitsx.detection.shapes import write_shapes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shapes = write_shapes(tmp / "shapes", 32, 8)
        port = 5691
        with server(tmp, port) as (url, s):
            ds = s.post(url + "/datasets/generic/create/image-object-detection.json", data={
                "dataset_name": "shapes", "label_format": "voc",
                "train_image_folder": str(shapes / "images" / "train"),
                "train_label_folder": str(shapes / "voc" / "train"),
                "padding_image_width": "", "padding_image_height": ""}).json()
            wait(s, f"{url}/datasets/{ds['id']}/status")
            model = s.post(url + "/models/images/generic.json", data={
                "model_name": "ssdlite", "dataset": ds["id"], "train_epochs": 1, "batch_size": 16}).json()
            wait(s, f"{url}/models/{model['id']}/status")
            image = shapes / "images" / "train" / "0000.png"
            conn = http.client.HTTPConnection("127.0.0.1", port)
            body = urllib.parse.urlencode({"job_id": model["id"], "image_path": str(image), "username": "bench"})
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            total, prep, fwd, count = [], [], [], 0
            for i in range(args.requests + 3):
                t = time.perf_counter()
                conn.request("POST", "/models/images/generic/infer_one.json", body, headers)
                res = json.loads(conn.getresponse().read())
                elapsed = (time.perf_counter() - t) * 1000
                if i >= 3:  # the first request starts the warm worker
                    total.append(elapsed)
                    prep.append(res["timing"]["preprocess_ms"])
                    fwd.append(res["timing"]["forward_ms"])
                    count = len(res["outputs"]["bbox-list"])
            overhead = [a - b - c for a, b, c in zip(total, prep, fwd)]
            detector = Detector(tmp / "jobs" / model["id"])
            x = detector.tensor(str(image))[0]
            bare = []
            with torch.no_grad():
                for _ in range(args.requests):
                    t = time.perf_counter()
                    out = detector.model([x])[0]
                    out["boxes"].tolist()
                    bare.append((time.perf_counter() - t) * 1000)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"detection infer_one over keep-alive HTTP, SSDlite 320, 192×192 image, {args.requests} "
          f"requests, {count} detections (confidence ≥ 0.05) per answer, {device} (ms)")
    print(f"{'total p50':>10}{'p99':>8}{'prep p50':>10}{'fwd p50':>9}{'overhead p50':>14}{'p99':>8}{'bare fwd p50':>14}")
    print(f"{pct(total, .5):>10.2f}{pct(total, .99):>8.2f}{pct(prep, .5):>10.2f}{pct(fwd, .5):>9.2f}"
          f"{pct(overhead, .5):>14.2f}{pct(overhead, .99):>8.2f}{pct(bare, .5):>14.2f}")
    print(f"total / bare forward (p50): {pct(total, .5) / pct(bare, .5):.2f}")


if __name__ == "__main__":
    main()
