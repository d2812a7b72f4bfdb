"""The home page's *Getting started* button: the three demo datasets in one click.

``POST /demo/data`` writes the demo folders (``digitsx demo-data``: MNIST digits, aerial trees
with Pascal VOC boxes, segmentation shapes) under the first data root, in a child process so
the server keeps answering, and answers each task's dataset form filled in for them; the page
then posts those forms like a person would (the same routes, checks and permissions)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from flask import Blueprint, current_app

from . import auth
from .errors import BadRequest
from .http import page

bp = Blueprint("demo", __name__)
SEGMENTATION_IMAGES = 60


def _write(dest: Path, *flags: str) -> None:
    if dest.exists():
        return  # written before: reused
    part = dest.with_name(dest.name + ".part")  # a folder half written is never reused
    shutil.rmtree(part, ignore_errors=True)
    run = subprocess.run([sys.executable, "-m", "digitsx.cli", "demo-data", *flags, str(part)],
                         capture_output=True, text=True, timeout=600)
    if not run.returncode:
        part.rename(dest)
    else:
        raise BadRequest(f"could not write the demo data in {dest}: "
                         f"{(run.stderr or run.stdout).strip().splitlines()[-1:]}")


@bp.route("/demo/data", methods=["POST"])  # JSON always (the page's script reads it)
@page  # the home page's button, not an API: it writes files (the REST way is digitsx demo-data)
def demo_data():
    """Write the demo folders (once) under the first data root; answers ``{folder, datasets:
    [{task, url, fields}]}``: each dataset form to post."""
    auth.require_login()
    auth.rate_limit("demo data", "PROCESS_LIMIT")  # it starts processes
    root = Path(current_app.config["DATA_ROOTS"][0]) / "digitsx-demo"
    root.mkdir(parents=True, exist_ok=True)
    _write(root / "mnist")
    _write(root / "trees", "--detection")
    _write(root / "shapes", "--segmentation", str(SEGMENTATION_IMAGES))
    mnist, trees, shapes = root / "mnist", root / "trees", root / "shapes"
    return {"folder": str(root), "datasets": [
        {"task": "image classification", "url": "/datasets/images/classification.json", "fields": {
            "dataset_name": "MNIST digits (demo)", "folder_train": str(mnist), "folder_pct_val": 25,
            "resize_channels": 1, "resize_width": 28, "resize_height": 28}},
        {"task": "object detection", "url": "/datasets/generic/create/image-object-detection.json", "fields": {
            "dataset_name": "Aerial trees (demo)", "label_format": "voc",
            "train_image_folder": str(trees / "images" / "train"), "train_label_folder": str(trees / "voc" / "train"),
            "val_image_folder": str(trees / "images" / "val"), "val_label_folder": str(trees / "voc" / "val"),
            "resize_image_width": 320, "resize_image_height": 320}},
        {"task": "segmentation", "url": "/datasets/generic/create/image-segmentation.json", "fields": {
            "dataset_name": "Shapes (demo)", "feature_folder": str(shapes / "images" / "train"),
            "label_folder": str(shapes / "palette" / "train"), "has_val_folder": "y",
            "validation_feature_folder": str(shapes / "images" / "val"),
            "validation_label_folder": str(shapes / "palette" / "val"), "colormap_method": "label",
            "class_labels_file": str(shapes / "classes.txt")}},
    ]}
