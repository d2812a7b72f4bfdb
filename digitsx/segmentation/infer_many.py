"""Worker: a segmentation test job, with progress.

    python -m digitsx.segmentation.infer_many JOB_DIR

Sources: ``split`` (the dataset's validation images with their labels: mIoU, pixel accuracy,
per-class IoU, the confusion matrix, and the images of lowest IoU beside their labels and
predictions), ``list`` (``inputs/images.txt``) or ``archive`` (unpacked into ``scratch/``):
each image's class shares. Writes ``results/segmentation.json`` and ``results/images/``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from ..datasets.lmdb_io import LmdbReader
from ..datasets.resize import UNREADABLE
from ..files import InputError
from ..models.inputs import images_to_test
from ..jobs.protocol import Emitter, run_worker
from . import IGNORE, records
from .infer import Segmenter
from .task import summarize

GALLERY = 8


def colour(classes: np.ndarray, palette: list | None) -> np.ndarray:
    lut = np.zeros((256, 3), np.uint8)
    for i, rgb in enumerate(palette or []):
        lut[i] = rgb
    if not palette:
        rng = np.random.default_rng(0)
        lut[1:255] = rng.integers(40, 255, (254, 3))
    lut[IGNORE] = (224, 224, 192)
    return lut[classes]


def run(folder: Path, out: Emitter) -> dict:
    spec = json.loads((folder / "spec.json").read_text())
    seg = Segmenter(Path(spec["model"]["dir"]), spec.get("epoch"))
    results = folder / "results"
    (results / "images").mkdir(parents=True, exist_ok=True)
    report: dict = {"labels": seg.labels, "palette": seg.palette, "epoch": seg.epoch, "source": spec["source"]}
    if spec["source"] == "split":
        rows = _split_rows(seg, spec, report, out)
        _gallery(seg, spec, rows, report, results)
    else:
        rows = _image_rows(folder, seg, spec, out)
    report.update(images=len(rows), errors=sum(1 for r in rows if r.get("error")))
    (results / "segmentation.json").write_text(json.dumps({"report": report, "images": rows}))
    out.result(report=report)
    out.log(f"{len(rows)} images" + (f"; mIoU {report['miou']:.3f}, pixel accuracy {report['accuracy']:.1f}%"
                                     if "miou" in report else ""))
    return report


def _split_rows(seg: Segmenter, spec: dict, report: dict, out: Emitter) -> list[dict]:
    """The dataset split's images against their labels: a row each (its mIoU and accuracy), and
    the split's metrics and confusion matrix into ``report``."""
    k = len(seg.labels)
    rows: list[dict] = []
    reader = LmdbReader(seg.data.folder / spec.get("split", "val"))
    total = seg.data.entries(spec.get("split", "val"))
    if spec.get("limit"):
        total = min(total, int(spec["limit"]))
    confusion = torch.zeros(k * k, dtype=torch.long)
    for i in range(total):
        image, label = records.decode(reader.raw(i))
        with torch.no_grad():
            predicted = seg.model(seg.tensor(image)).argmax(1)[0].cpu()
        target = torch.from_numpy(label.astype(np.int64))
        valid = (target != IGNORE) & (target < k)
        one = torch.bincount(target[valid] * k + predicted[valid], minlength=k * k)
        confusion += one
        scalars, _ = summarize(one.view(k, k))
        rows.append({"index": i, "path": f"{spec.get('split', 'val')}/{i}", "miou": round(scalars["miou"], 4),
                     "accuracy": round(scalars["accuracy"], 2)})
        out.progress(i + 1, total)
    reader.close()
    scalars, details = summarize(confusion.view(k, k))
    report.update(miou=scalars["miou"], accuracy=scalars["accuracy"], **details)
    return rows


def _gallery(seg: Segmenter, spec: dict, rows: list[dict], report: dict, results: Path) -> None:
    """The images of lowest IoU beside their labels and predictions (``results/images``)."""
    from PIL import Image

    worst = sorted(rows, key=lambda r: r["miou"])[:GALLERY]
    reader = LmdbReader(seg.data.folder / spec.get("split", "val"))
    for row in worst:
        image, label = records.decode(reader.raw(row["index"]))
        with torch.no_grad():
            predicted = seg.model(seg.tensor(image)).argmax(1)[0].to(torch.uint8).cpu().numpy()
        for name, array in (("image", image), ("label", colour(label, seg.palette)),
                            ("predicted", colour(predicted, seg.palette))):
            Image.fromarray(array).save(results / "images" / f"{row['index']}_{name}.png")
    reader.close()
    report["gallery"] = [r["index"] for r in worst]


def _image_rows(folder: Path, seg: Segmenter, spec: dict, out: Emitter) -> list[dict]:
    """A list's or an archive's images: each one's class shares (or why it could not be read)."""
    k = len(seg.labels)
    paths, shown = images_to_test(folder, spec)
    rows: list[dict] = []
    for i, (path, name) in enumerate(zip(paths, shown)):
        row: dict = {"index": i, "path": name}
        try:
            classes = seg.classes(path)[0]
            counts = np.bincount(classes.ravel(), minlength=k)[:k]
            row["share"] = [round(float(c) / max(1, classes.size), 4) for c in counts]
        except UNREADABLE as err:
            row["error"] = f"not a readable image: {err}"
        rows.append(row)
        out.progress(i + 1, len(paths))
    return rows


def main(job_dir: str) -> int:
    return run_worker(run, job_dir, (ValueError, FileNotFoundError, InputError), scratch=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
