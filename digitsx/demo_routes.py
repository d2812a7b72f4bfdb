"""The home page's *Getting started* button: the three demo datasets in one click.

``POST /demo/data`` writes the demo folders (``digitsx demo-data``: MNIST digits, aerial trees
with Pascal VOC boxes, segmentation shapes) under the first data root, in a child process run
by one background task however many requests ask at once (and under a file lock, however many
server processes), and answers each task's dataset form filled in for them; the page then
posts those forms like a person would (the same routes, checks and permissions). A request
waits a while for the writing; past that it answers 202 and the page asks again."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from flask import Blueprint, current_app, jsonify

from . import auth
from .errors import BadRequest
from .extensions import socketio
from .http import page

bp = Blueprint("demo", __name__)
SEGMENTATION_IMAGES = 60


WAIT_SECONDS = 20.0


def _write(dest: Path, *flags: str) -> None:
    if dest.exists():
        return  # written before: reused
    part = dest.with_name(f"{dest.name}.part{os.getpid()}")  # a folder half written is never reused
    shutil.rmtree(part, ignore_errors=True)
    run = subprocess.run([sys.executable, "-m", "digitsx.cli", "demo-data", *flags, str(part)],
                         capture_output=True, text=True, timeout=600)
    if not run.returncode:
        part.rename(dest)
    else:
        shutil.rmtree(part, ignore_errors=True)
        last = (run.stderr or run.stdout).strip().splitlines()[-1:]
        raise ValueError(f"could not write the demo data in {dest}: {' '.join(last)}")


class Writing:
    """The one background writing of a root's demo folders: its outcome once done."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: str | None = None


_writing: dict[str, Writing] = {}
_lock = threading.Lock()


def _write_all(root: Path, writing: Writing) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / ".lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ValueError("another server process is writing the demo data; try again in a minute")
            try:
                _write(root / "mnist")
                _write(root / "trees", "--detection")
                _write(root / "shapes", "--segmentation", str(SEGMENTATION_IMAGES))
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        writing.error = str(err)
    finally:
        writing.done.set()
        with _lock:
            _writing.pop(str(root), None)


def _written(root: Path) -> Writing | None:
    """None when the folders are there; else the writing (started now, or joined)."""
    if all((root / name).is_dir() for name in ("mnist", "trees", "shapes")):
        return None
    with _lock:
        writing = _writing.get(str(root))
        if writing is None:
            auth.rate_limit("demo data", "PROCESS_LIMIT")  # it starts processes
            writing = _writing[str(root)] = Writing()
            socketio.start_background_task(_write_all, root, writing)
    return writing


@bp.route("/demo/data", methods=["POST"])  # JSON always (the page's script reads it)
@page  # the home page's button, not an API: it writes files (the REST way is digitsx demo-data)
def demo_data():
    """Write the demo folders (once) under the first data root; answers ``{folder, datasets:
    [{task, url, fields}]}``: each dataset form to post."""
    auth.require_login()
    root = Path(current_app.config["DATA_ROOTS"][0]) / "digitsx-demo"
    writing = _written(root)
    if writing is not None:
        if writing.done.wait(float(current_app.config.get("DEMO_WAIT_SECONDS", WAIT_SECONDS))):
            if writing.error:
                raise BadRequest(writing.error)
        else:
            return jsonify({"status": "preparing", "folder": str(root)}), 202, {"Retry-After": "2"}
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
