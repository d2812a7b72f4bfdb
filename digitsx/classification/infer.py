"""Worker: a warm classifier. Loads one model snapshot, then answers requests until stdin closes.

    python -m digitsx.classification.infer MODEL_JOB_DIR EPOCH

Each request is a JSON line on stdin: ``{"id", "image": base64 bytes | "path": file, "top": 5}``;
each answer a JSON line on stdout: ``{"id", "predictions": [[label, percent], ...], "timing":
{"preprocess_ms", "forward_ms"}}`` or ``{"id", "error"}``. Preprocessing is exactly the
dataset's: channels, resize mode and size, mean subtraction.
"""
from __future__ import annotations

import base64
import io
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..datasets.resize import UNREADABLE, load_image, resize_image
from ..engine.spec import TrainingSpec
from ..jobs.protocol import serve_model
from ..engine import checkpoint
from .augment import Augment, prepare
from .data import DatasetInfo
from .networks import build_network
from .task import ClassificationTask


def as_stored(source, image: dict) -> torch.Tensor:
    """An image file (path or file object) → the uint8 (C, H, W) tensor its dataset would have
    stored: same channels, resize mode and size (``image`` is the dataset's ``meta["image"]``)."""
    noisy = image["resize_mode"] in ("fill", "half_crop")  # the padding noise is seeded per image
    array = resize_image(load_image(source, image["channels"]), image["width"], image["height"],
                         image["resize_mode"], image["channels"], np.random.default_rng(0) if noisy else None)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.array(array, copy=True, order="C"))


class Classifier:
    """A model snapshot, ready to classify images the way its dataset stored them."""

    def __init__(self, job_dir: Path, epoch: float | None = None, device: str | None = None) -> None:
        spec = TrainingSpec.from_dict(json.loads((job_dir / "spec.json").read_text()))
        self.info = DatasetInfo(Path(spec.dataset.dir))
        self.image = self.info.meta["image"]
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.aug = Augment(**spec.augment)
        spec = replace(spec, network={k: v for k, v in spec.network.items() if k != "previous"})
        self.model = build_network(spec, self.info).to(self.device).eval()
        chosen = checkpoint.latest_snapshot(job_dir) if epoch is None \
            else checkpoint.snapshot_path(job_dir, epoch)
        if chosen is None:
            raise FileNotFoundError(f"model {job_dir.name} has no snapshot yet")
        if not chosen.exists():
            raise FileNotFoundError(f"model {job_dir.name} has no snapshot for epoch {epoch:g}")
        state = torch.load(chosen, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.epoch = state["epoch"]
        mean = self.info.mean()
        self.mean = mean.to(self.device) if mean is not None else None

    def tensor(self, source) -> torch.Tensor:
        """One image → the uint8 (1, C, H, W) batch the dataset would have stored."""
        return as_stored(source, self.image)[None].to(self.device)

    @torch.no_grad()
    def classify(self, source, top: int = 5, visualize: bool = False) -> dict:
        """Top-``top`` ``[label, percent]`` pairs with timings (and every layer, if asked)."""
        t0 = time.perf_counter()
        x = prepare(self.tensor(source), self.mean, self.aug, training=False)
        if visualize:
            from .visualize_layers import tile, visualize as layers

            seen = x[0].cpu().numpy()
            answer = self.classify(source, top)
            answer["visualizations"] = {"input": tile(seen), **layers(self.model, x)}
            return answer
        t1 = time.perf_counter()
        values, indexes = ClassificationTask.postprocess(self.model(x), top)[0]
        t2 = time.perf_counter()
        return {"predictions": [[self.info.labels[i], round(100 * v, 2)] for v, i in zip(values, indexes)],
                "timing": {"preprocess_ms": (t1 - t0) * 1000, "forward_ms": (t2 - t1) * 1000}}


def answer(classifier: Classifier, request: dict) -> dict:
    """One request: an ``image`` (base64) or a ``path`` on the server → predictions."""
    source = io.BytesIO(base64.b64decode(request["image"])) if "image" in request \
        else request["path"]
    try:
        return classifier.classify(source, int(request.get("top", 5)), bool(request.get("visualize")))
    except UNREADABLE as err:
        raise ValueError(f"not a readable image: {err}") from None


def main(job_dir: str, epoch: str = "") -> int:
    """Load, say ready (or why not), then answer requests (:func:`digitsx.jobs.protocol.serve`)."""
    return serve_model(Classifier, answer, job_dir, epoch)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
