"""Worker: a detection test job. Runs a model snapshot over many images, with progress.

    python -m digitsx.detection.infer_many JOB_DIR

Sources (``spec.json``): ``list`` (``inputs/images.txt``, paths on the server), ``archive``
(unpacked into ``scratch/``, gone when the job ends), or ``split`` (the dataset's validation
images, with their boxes: then the report has COCO mAP@0.5 and @0.5:0.95, per-class AP, the PR
curve, P/R/F1 against confidence, and the images with the most missed and false boxes).
Writes ``results/detections.json`` and ``results/detections.csv``; thumbnails of the gallery's
images in ``results/images/``.
"""
from __future__ import annotations

import csv
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
from . import records
from .infer import Detector
from .task import pr_summary

BATCH = 8
GALLERY = 12


def _errors(dets: list[dict], truth: np.ndarray, threshold: float) -> tuple[int, int]:
    """(missed, false) boxes at ``threshold``: greedy matching by confidence, same class,
    IoU ≥ 0.5 (for choosing the gallery; the metrics are torchmetrics')."""
    from torchvision.ops import box_iou

    kept = [d for d in dets if d["confidence"] >= threshold]
    gt = truth[truth[:, 5] < 0.5] if len(truth) else truth
    if not kept or not len(gt):
        return len(gt), len(kept)
    iou = box_iou(torch.tensor([d["box"] for d in kept]), torch.from_numpy(gt[:, :4].copy()))
    used, matched = set(), 0
    for i, d in sorted(enumerate(kept), key=lambda p: -p[1]["confidence"]):
        for j in iou[i].argsort(descending=True).tolist():
            if iou[i, j] < 0.5:
                break
            if j not in used and int(gt[j, 4]) == d["class"]:
                used.add(j)
                matched += 1
                break
    return len(gt) - matched, len(kept) - matched


def _thumbnail(array: np.ndarray, dest: Path) -> float:
    """Save a JPEG of at most 512 px; returns its scale."""
    from PIL import Image

    image = Image.fromarray(array)
    scale = min(1.0, 512 / max(image.size))
    if scale < 1:
        image = image.resize((max(1, int(image.size[0] * scale)), max(1, int(image.size[1] * scale))))
    dest.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(dest, quality=85)
    return scale


def run(folder: Path, out: Emitter) -> dict:
    spec = json.loads((folder / "spec.json").read_text())
    detector = Detector(Path(spec["model"]["dir"]), spec.get("epoch"))
    threshold = float(spec.get("threshold") or 0.5)
    least = max(float(spec.get("min_confidence") or 0.05), 0.05)  # what the lists keep
    results = folder / "results"
    results.mkdir(exist_ok=True)
    if spec["source"] == "split":
        rows, truths, metric = _split_rows(detector, spec, least, out)
    else:
        rows, truths, metric = _image_rows(folder, detector, spec, least, out), [], None
    report: dict = {"images": len(rows), "errors": sum(1 for r in rows if r.get("error")),
                    "detections": sum(len(r["detections"]) for r in rows), "threshold": threshold,
                    "labels": detector.labels, "epoch": detector.epoch, "source": spec["source"],
                    "min_confidence": least}
    if metric is not None and rows:
        _metrics(report, metric.compute(), rows, truths, detector, spec, results)
    _write(results, report, rows)
    out.result(report=report)
    out.log(f"{len(rows)} images, {report['detections']} detections"
            + (f"; mAP@0.5 {report['map_50']:.3f}, mAP@0.5:0.95 {report['map']:.3f}" if "map" in report else ""))
    return report


def _split_rows(detector: Detector, spec: dict, least: float, out: Emitter):
    """The dataset split's images with their boxes: (rows, true boxes, the mAP metric fed)."""
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="faster_coco_eval",
                                  class_metrics=True, extended_summary=True)
    metric.warn_on_many_detections = False
    rows: list[dict] = []
    truths: list[np.ndarray] = []
    split = spec.get("split", "val")
    reader = LmdbReader(detector.data.folder / split)
    total = detector.data.entries(split)
    if spec.get("limit"):
        total = min(total, int(spec["limit"]))
    for start in range(0, total, BATCH):
        arrays, boxes = zip(*(records.decode(reader.raw(i)) for i in range(start, min(total, start + BATCH))))
        tensors = [torch.from_numpy(np.array(a[None] if a.ndim == 2 else a.transpose(2, 0, 1)))
                   .to(detector.device).float().div_(255) for a in arrays]
        tensors = [t.expand(3, -1, -1) if t.shape[0] == 1 else t for t in tensors]
        with torch.no_grad():
            outputs = detector.model(tensors)
        for k, (a, b, o) in enumerate(zip(arrays, boxes, outputs)):
            keep = o["scores"] >= 0.05
            det = {key: o[key][keep].float().cpu() if key != "labels" else o[key][keep].cpu()
                   for key in ("boxes", "scores", "labels")}
            gt = b[b[:, 5] < 0.5]
            metric.update([det], [{"boxes": torch.from_numpy(gt[:, :4].copy()),
                                   "labels": torch.from_numpy(gt[:, 4].astype(np.int64))}])
            rows.append(_split_row(detector, split, start + k, a, det, gt, least))
            truths.append(b)
        out.progress(min(total, start + BATCH), total)
    reader.close()
    return rows, truths, metric


def _split_row(detector: Detector, split: str, index: int, array, det: dict, gt, least: float) -> dict:
    """One stored image's row: its detections (at least ``least``) and its true boxes."""
    found = [{"label": detector.labels[int(c)], "class": int(c), "confidence": round(float(s), 4),
              "box": [round(float(v), 2) for v in bx]}
             for bx, s, c in zip(det["boxes"].tolist(), det["scores"].tolist(), det["labels"].tolist())]
    return {"index": index, "path": f"{split}/{index}", "size": [int(array.shape[1]), int(array.shape[0])],
            "detections": [d for d in found if d["confidence"] >= least],
            "truth": [{"label": detector.labels[int(r[4])], "class": int(r[4]),
                       "box": [round(float(v), 2) for v in r[:4]]} for r in gt]}


def _image_rows(folder: Path, detector: Detector, spec: dict, least: float, out: Emitter) -> list[dict]:
    """A list's or an archive's images: a row each (an unreadable one with its error)."""
    paths, shown = images_to_test(folder, spec)
    rows: list[dict] = []
    for start in range(0, len(paths), BATCH):
        for k, path in enumerate(paths[start:start + BATCH]):
            row: dict = {"index": start + k, "path": shown[start + k]}
            try:
                answer = detector.detect(path, least)
                row.update(size=answer["image_size"], detections=answer["detections"])
            except UNREADABLE as err:
                row.update(error=f"not a readable image: {err}", detections=[])
            rows.append(row)
        out.progress(min(len(paths), start + BATCH), len(paths))
    return rows


def _metrics(report: dict, result: dict, rows: list[dict], truths: list, detector: Detector, spec: dict,
             results: Path) -> None:
    """mAP, per-class AP and the PR curve into ``report``; the images with the most missed and
    false boxes as the gallery (thumbnails in ``results/images``)."""
    summary = pr_summary(result, detector.labels)
    report.update(map=float(result["map"]), map_50=float(result["map_50"]),
                  map_75=float(result["map_75"]), per_class=summary["per_class"],
                  pr_curve=summary["curve"], best={"precision": summary["precision"],
                                                   "recall": summary["recall"],
                                                   "threshold": summary["threshold"]})
    for row, truth in zip(rows, truths):
        row["missed"], row["false"] = _errors(row["detections"], truth, report["threshold"])
    worst = sorted(rows, key=lambda r: -(r["missed"] + r["false"]))[:GALLERY]
    reader = LmdbReader(detector.data.folder / spec.get("split", "val"))
    for row in worst:
        array, _ = records.decode(reader.raw(row["index"]))
        row["thumb"] = f"images/{row['index']}.jpg"
        row["thumb_scale"] = _thumbnail(array, results / row["thumb"])
    reader.close()
    report["gallery"] = [r["index"] for r in worst]


def _write(results: Path, report: dict, rows: list[dict]) -> None:
    """``detections.json`` (report and rows) and ``detections.csv`` (a line per detection)."""
    (results / "detections.json").write_text(json.dumps({"report": report, "images": rows}))
    with open(results / "detections.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "label", "class", "confidence", "left", "top", "right", "bottom"])
        for r in rows:
            for d in r["detections"]:
                writer.writerow([r["path"], d["label"], d["class"], d["confidence"], *d["box"]])


def main(job_dir: str) -> int:
    return run_worker(run, job_dir, (ValueError, FileNotFoundError, InputError), scratch=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
