"""Worker: a warm segmenter. Loads one snapshot, then answers requests until stdin closes.

    python -m digitsx.segmentation.infer MODEL_JOB_DIR EPOCH

A request is ``{"image": base64 | "path", "dont_resize": bool, "class_map_format": "json" |
"png" | "index_png"}``; the answer is DIGITS's ``{"outputs": {"class_map": [[class per
pixel]...]}}`` (or, for ``png``, ``{"outputs": {"class_map_png": base64}}``: a palette PNG whose
pixel values are the classes, coloured as the dataset, a fraction of the JSON's size; for
``index_png``, the browser page's, the same PNG with a grey palette, so that a canvas reads each
pixel's class back as its red value) with ``labels``, ``palette`` and the ``image_size``. The
image is prepared as the dataset stored it (channels, resize); the map comes back at the source
image's size (nearest) unless ``dont_resize``.
"""
from __future__ import annotations

import base64
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..datasets.resize import UNREADABLE, convert_channels
from ..engine import checkpoint
from ..engine.spec import TrainingSpec
from ..jobs.protocol import serve_model
from .data import SegmentationData
from .networks import build_network, input_channels
from .task import SegmentationTask


class Segmenter:
    def __init__(self, job_dir: Path, epoch: float | None = None, device: str | None = None) -> None:
        spec = TrainingSpec.from_dict(json.loads((job_dir / "spec.json").read_text()))
        self.data = SegmentationData(Path(spec.dataset.dir))
        self.labels, self.image = self.data.labels, self.data.meta["image"]
        self.palette = self.data.meta.get("palette")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        network = {k: v for k, v in spec.network.items() if k != "previous"}
        self.channels = input_channels(network, self.data.channels)
        self.model = build_network(network, len(self.labels), self.channels)
        chosen = checkpoint.latest_snapshot(job_dir) if epoch is None else checkpoint.snapshot_path(job_dir, epoch)
        if chosen is None or not chosen.exists():
            raise FileNotFoundError(f"model {job_dir.name} has no snapshot" + (f" for epoch {epoch:g}" if epoch else " yet"))
        state = torch.load(chosen, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.model.to(self.device).eval()
        self.epoch = state["epoch"]

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        x = torch.from_numpy(np.array(array, copy=True)).to(self.device).float().div_(255)[None]
        if x.shape[1] != self.channels:
            x = x.expand(-1, self.channels, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)
        return x

    def segment(self, source, dont_resize: bool = False, class_map_format: str = "json") -> dict:
        """DIGITS's answer (see the module's doc) for one image."""
        classes, timing = self.classes(source, dont_resize)
        outputs = {"class_map": classes.tolist()} if class_map_format == "json" else \
            {"class_map_png": self.png(classes, grey=class_map_format == "index_png")}
        return {"outputs": outputs, "labels": self.labels, "palette": self.palette,
                "image_size": [int(classes.shape[1]), int(classes.shape[0])], "timing": timing}

    @torch.no_grad()
    def classes(self, source, dont_resize: bool = False) -> tuple[np.ndarray, dict]:
        """(the uint8 class map H×W, the preprocess and forward times in ms)."""
        from PIL import Image

        t0 = time.perf_counter()
        with Image.open(source) as opened:
            opened.load()
            image = convert_channels(opened, self.image.get("channel_conversion", "RGB"))
        size = image.size
        if self.image.get("resize"):
            image = image.resize(tuple(self.image["resize"]), Image.BILINEAR)
        x = self.tensor(np.asarray(image))
        t1 = time.perf_counter()
        classes = SegmentationTask.postprocess(self.model(x), None if dont_resize else (size[1], size[0]))[0]
        t2 = time.perf_counter()
        return classes, {"preprocess_ms": (t1 - t0) * 1000, "forward_ms": (t2 - t1) * 1000}

    def png(self, classes: np.ndarray, grey: bool = False) -> str:
        """The class map as a base64 palette PNG: pixel value = class, coloured as the dataset
        (``grey``: colour = (class, class, class))."""
        from PIL import Image

        image = Image.frombytes("P", (classes.shape[1], classes.shape[0]), np.ascontiguousarray(classes).tobytes())
        colours = [c for i in range(256) for c in (i, i, i)] if grey else \
            [c for rgb in (self.palette or []) for c in rgb[:3]]
        if colours:
            image.putpalette(colours + [0] * (768 - len(colours)))
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return base64.b64encode(out.getvalue()).decode()


def answer(segmenter: Segmenter, request: dict) -> dict:
    source = io.BytesIO(base64.b64decode(request["image"])) if "image" in request else request["path"]
    try:
        return segmenter.segment(source, bool(request.get("dont_resize")),
                                 str(request.get("class_map_format") or "json"))
    except UNREADABLE as err:
        raise ValueError(f"not a readable image: {err}") from None


def main(job_dir: str, epoch: str = "") -> int:
    """Load, say ready (or why not), then answer requests (:func:`digitsx.jobs.protocol.serve`)."""
    return serve_model(Segmenter, answer, job_dir, epoch)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
