"""classify_one latency over keep-alive HTTP against the bare forward pass, same run.

Starts a real server, builds a dataset and trains a model for one epoch per network (LeNet on
MNIST 28×28; ResNet-18 on generated 224×224 photos), then sends N keep-alive classify_one
requests per model and prints p50/p99 of: total (client side), preprocessing and forward (as
the worker measured them), server overhead = total − preprocessing − forward, and the bare
forward pass of the same snapshot timed in this process.

    .venv/bin/python bench/infer_latency.py [--requests 200]
"""
from __future__ import annotations

import argparse
import http.client
import json
import urllib.parse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def server_timing(header: str) -> dict[str, float]:
    """``app;dur=1.2, worker;dur=0.9`` → ``{"app": 1.2, "worker": 0.9}``."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if name:
            out[name] = float(dur)
    return out


def main() -> None:
    from _server import dataset_and_model, pct, server
    from dataset_build import make_photos

    from digitsx.classification.demo import write_mnist_folder
    from digitsx.classification.infer import Classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--networks", default="lenet,resnet18")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_mnist_folder(tmp / "mnist", per_class=50)
        make_photos(tmp / "photos", 40, classes=2)
        port = 5690
        with server(tmp, port) as (url, s):
            cases = [("lenet", tmp / "mnist", 28, 1, next((tmp / "mnist" / "seven").glob("*.png"))),
                     ("resnet18", tmp / "photos", 224, 3, next((tmp / "photos").rglob("*.jpg")))]
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"  # what the warm worker uses
            print(f"classify_one over keep-alive HTTP, {args.requests} requests per model, "
                  f"{device} (ms)")
            print(f"{'network':<10}{'total p50':>10}{'p99':>8}{'prep p50':>10}{'fwd p50':>9}"
                  f"{'overhead p50':>14}{'p99':>8}{'bare fwd p50':>14}")
            parts = []
            for network, folder, size, channels, image in cases:
                if network not in args.networks.split(","):
                    continue
                _, model_id = dataset_and_model(s, url, network, folder, size, channels, network)
                model = {"id": model_id}
                total, prep, fwd, http_part, app_part, pipe_part = [], [], [], [], [], []
                # A lean keep-alive client (http.client): requests itself costs ~1 ms a call.
                conn = http.client.HTTPConnection("127.0.0.1", port)
                body = urllib.parse.urlencode({"job_id": model["id"], "image_path": str(image),
                                               "username": "bench"})
                headers = {"Content-Type": "application/x-www-form-urlencoded",
                           "Accept": "application/json"}
                for i in range(args.requests + 5):
                    t = time.perf_counter()
                    conn.request("POST", "/models/images/classification/classify_one.json", body, headers)
                    response = conn.getresponse()
                    res = json.loads(response.read())
                    elapsed = (time.perf_counter() - t) * 1000
                    if i >= 5:  # the first request starts the warm worker
                        total.append(elapsed)
                        prep.append(res["timing"]["preprocess_ms"])
                        fwd.append(res["timing"]["forward_ms"])
                        timing = server_timing(response.getheader("Server-Timing", ""))
                        http_part.append(elapsed - timing["app"])
                        app_part.append(timing["app"] - timing["worker"])
                        pipe_part.append(timing["worker"] - timing["preprocess"] - timing["forward"])
                overhead = [a - b - c for a, b, c in zip(total, prep, fwd)]
                parts.append((network, http_part, app_part, pipe_part))
                classifier = Classifier(tmp / "jobs" / model["id"])
                x = classifier.tensor(str(image))
                from digitsx.classification.augment import prepare
                bare = []
                with torch.no_grad():
                    xin = prepare(x, classifier.mean, classifier.aug, training=False)
                    for _ in range(args.requests):
                        t = time.perf_counter()
                        probs = torch.softmax(classifier.model(xin), 1)
                        probs.topk(min(5, probs.shape[1]))[0].tolist()
                        bare.append((time.perf_counter() - t) * 1000)
                print(f"{network:<10}{pct(total, .5):>10.2f}{pct(total, .99):>8.2f}{pct(prep, .5):>10.2f}"
                      f"{pct(fwd, .5):>9.2f}{pct(overhead, .5):>14.2f}{pct(overhead, .99):>8.2f}"
                      f"{pct(bare, .5):>14.2f}")
            print("\nserver overhead p50 by part (ms): HTTP stack + client = total - app; "
                  "app = Flask view without the worker; pipe = worker round trip - preprocess - forward")
            print(f"{'network':<10}{'http':>8}{'app':>8}{'pipe':>8}")
            for network, h, a, w in parts:
                print(f"{network:<10}{pct(h, .5):>8.2f}{pct(a, .5):>8.2f}{pct(w, .5):>8.2f}")


if __name__ == "__main__":
    main()
