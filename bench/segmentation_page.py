"""Segmentation's one-image answers for a large photo, through a real server: the class map as
DIGITS's JSON lists against ``class_map_format=png``, and the test-one page (which embeds the map
as a grey-palette PNG read back in a canvas; it embedded the lists before). Bytes on the wire
and request time, best of ``--repeats``, the warm worker already loaded.

    .venv/bin/python bench/segmentation_page.py [--side 2000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import server, wait  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=2000, help="the photo's width and height")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=5743)
    args = parser.parse_args()
    from PIL import Image

    from digitsx.segmentation.shapes import write_shapes

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        shapes = write_shapes(tmp / "seg", train=16, val=4, width=96, height=96)
        big = tmp / "big.png"  # a shapes image scaled up: regions the model can find
        Image.open(shapes / "images" / "val" / "0000.png").resize((args.side, args.side), Image.BILINEAR).save(big)
        with server(tmp, args.port) as (url, s):
            ds = s.post(url + "/datasets/generic/create/image-segmentation.json", data={
                "dataset_name": "seg", "feature_folder": str(shapes / "images" / "train"),
                "label_folder": str(shapes / "palette" / "train"), "has_val_folder": "y",
                "validation_feature_folder": str(shapes / "images" / "val"),
                "validation_label_folder": str(shapes / "palette" / "val"), "colormap_method": "label",
                "class_labels_file": str(shapes / "classes.txt")}).json()
            wait(s, f"{url}/datasets/{ds['id']}/status")
            model = s.post(url + "/models/images/generic.json", data={
                "dataset": ds["id"], "model_name": "seg", "train_epochs": 1, "batch_size": 8}).json()
            wait(s, f"{url}/models/{model['id']}/status", poll=1)
            ask = {"job_id": model["id"], "image_path": str(big)}
            answers = {
                "JSON, class_map lists": lambda: s.post(url + "/models/images/generic/infer_one.json", data=ask),
                "JSON, class_map_format=png": lambda: s.post(url + "/models/images/generic/infer_one.json",
                                                             data={**ask, "class_map_format": "png"}),
                "the test-one page (HTML)": lambda: s.post(url + "/models/images/generic/infer_one", data=ask,
                                                           headers={"Accept": "text/html"}),
            }
            answers["JSON, class_map lists"]()  # the warm worker loads
            print(f"{args.side}×{args.side} photo, best of {args.repeats}:")
            for name, call in answers.items():
                best, size = float("inf"), 0
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    res = call()
                    best = min(best, time.perf_counter() - start)
                    assert res.ok, res.text[:300]
                    size = len(res.content)
                print(f"  {name:28s} {size / 1e6:8.2f} MB  {best * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
