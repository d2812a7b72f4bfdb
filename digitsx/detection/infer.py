"""Worker: a warm detector. Loads one model snapshot, then answers requests until stdin closes.

    python -m digitsx.detection.infer MODEL_JOB_DIR EPOCH

A request is ``{"image": base64 bytes | "path": file}``; the answer has DIGITS's
``{"outputs": {"bbox-list": [[left, top, right, bottom, confidence, class], ...]}}`` and
``{"detections": [{label, class, confidence, box}], "threshold", "image_size", "timing"}``, in
the source image's pixels. Preprocessing is the dataset's: channel conversion, padding, resize.
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
from .build import fit
from .data import DetectionData
from .networks import build_network
from .task import DetectionTask

MIN_SCORE = 0.05  # detections below this are not returned (the view's slider starts above it)


class Detector:
    """A detection model snapshot, ready to find boxes the way its dataset stored images."""

    def __init__(self, job_dir: Path, epoch: float | None = None, device: str | None = None) -> None:
        spec = TrainingSpec.from_dict(json.loads((job_dir / "spec.json").read_text()))
        self.data = DetectionData(Path(spec.dataset.dir))
        self.labels = self.data.labels
        self.image = self.data.meta["image"]
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        network = {k: v for k, v in spec.network.items() if k != "previous"}
        self.model = build_network(network, len(self.labels), (self.data.width, self.data.height))
        chosen = checkpoint.latest_snapshot(job_dir) if epoch is None \
            else checkpoint.snapshot_path(job_dir, epoch)
        if chosen is None:
            raise FileNotFoundError(f"model {job_dir.name} has no snapshot yet")
        if not chosen.exists():
            raise FileNotFoundError(f"model {job_dir.name} has no snapshot for epoch {epoch:g}")
        state = torch.load(chosen, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.model.to(self.device).eval()
        self.epoch = state["epoch"]

    def tensor(self, source) -> tuple[torch.Tensor, float, float, tuple[int, int]]:
        """(float (3, H, W) 0–1 as stored, x scale, y scale, the source's (width, height))."""
        from PIL import Image

        with Image.open(source) as opened:
            opened.load()
            image = convert_channels(opened, self.image.get("channel_conversion", "RGB"))
        size = image.size
        image, sx, sy = fit(image, self.image)
        array = np.asarray(image)
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        x = torch.from_numpy(np.array(array, copy=True)).to(self.device).float().div_(255)
        return (x.expand(3, -1, -1) if x.shape[0] == 1 else x), sx, sy, size

    @torch.no_grad()
    def detect_batch(self, sources: list, min_score: float = MIN_SCORE) -> list[dict]:
        """Each source's detections scoring at least ``min_score`` (never below MIN_SCORE)."""
        min_score = max(float(min_score), MIN_SCORE)
        t0 = time.perf_counter()
        prepared = [self.tensor(s) for s in sources]
        t1 = time.perf_counter()
        outputs = self.model([p[0] for p in prepared])
        tables = DetectionTask.postprocess(outputs, min_score, [(sx, sy, size) for _, sx, sy, size in prepared])
        t2 = time.perf_counter()
        answers = []
        for rows, (_, _, _, (w, h)) in zip(tables, prepared):
            answers.append({
                "outputs": {"bbox-list": rows},
                "detections": [{"label": self.labels[r[5]] if 0 <= r[5] < len(self.labels) else str(r[5]),
                                "class": r[5], "confidence": r[4], "box": r[:4]} for r in rows],
                "image_size": [w, h], "labels": self.labels})
        for a in answers:
            a["timing"] = {"preprocess_ms": (t1 - t0) * 1000 / len(sources),
                           "forward_ms": (t2 - t1) * 1000 / len(sources)}
        return answers

    def detect(self, source, min_score: float = MIN_SCORE) -> dict:
        return self.detect_batch([source], min_score)[0]


def answer(detector: Detector, request: dict) -> dict:
    source = io.BytesIO(base64.b64decode(request["image"])) if "image" in request else request["path"]
    try:
        return detector.detect(source, request.get("min_confidence") or MIN_SCORE)
    except UNREADABLE as err:
        raise ValueError(f"not a readable image: {err}") from None


def main(job_dir: str, epoch: str = "") -> int:
    """Load, say ready (or why not), then answer requests (:func:`digitsx.jobs.protocol.serve`)."""
    return serve_model(Detector, answer, job_dir, epoch)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
