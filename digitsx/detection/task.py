"""Object detection as a task of the training engine: a torchvision detector, its loss
components while training and on validation, and COCO mAP (torchmetrics on the
``faster-coco-eval`` backend) with precision, recall, the F1-best confidence and per-class AP."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..engine.spec import TrainingSpec
from ..engine.task import Evaluator, Task
from ..engine.data import decode_jpegs
from .data import DetectionData, DetectionImages, collate
from .networks import build_network


def loss_name(key: str) -> str:
    """A detector's loss component as a metric name: ``loss_`` first, so the graph puts it with
    the losses (SSD's ``classification`` → ``loss_classification``; Faster R-CNN's are already)."""
    return key if key.startswith("loss") else f"loss_{key}"


def targets_of(boxes: torch.Tensor) -> dict[str, torch.Tensor]:
    """Stored rows ``[x1, y1, x2, y2, class, ignore]`` → torchvision's target (don't-care boxes
    left out: the detectors have no ignore regions)."""
    keep = boxes[:, 5] < 0.5
    return {"boxes": boxes[keep, :4].float(), "labels": boxes[keep, 4].long()}


def augment(image: torch.Tensor, boxes: torch.Tensor, aug: dict, gen: torch.Generator | None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip, scale jitter (a random crop, boxes kept by their centre and clipped) and colour
    jitter, on the device; ``image`` is float (C, H, W) in 0–1."""
    device = image.device

    def rand() -> float:
        return float(torch.rand((), generator=gen, device=device))

    _, h, w = image.shape
    if aug.get("flip") == "fliplr" and rand() < 0.5:
        image = image.flip(-1)
        boxes = boxes.clone()
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    scale = float(aug.get("scale") or 0)
    if scale > 0 and len(boxes):
        s = 1 - scale * rand()
        cw, ch = max(1, int(w * s)), max(1, int(h * s))
        x0, y0 = int(rand() * (w - cw)), int(rand() * (h - ch))
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        inside = (cx >= x0) & (cx < x0 + cw) & (cy >= y0) & (cy < y0 + ch)
        boxes = boxes[inside].clone()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - x0).clamp(0, cw)
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - y0).clamp(0, ch)
        image = torch.nn.functional.interpolate(image[None, :, y0:y0 + ch, x0:x0 + cw], size=(h, w),
                                                mode="bilinear", align_corners=False)[0]
        boxes[:, [0, 2]] *= w / cw
        boxes[:, [1, 3]] *= h / ch
        boxes = boxes[(boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)]
    jitter = float(aug.get("color") or 0)
    if jitter > 0:
        brightness = 1 + jitter * (2 * rand() - 1)
        contrast = 1 + jitter * (2 * rand() - 1)
        mean = image.mean()
        image = ((image - mean) * contrast + mean) * brightness
        image = image.clamp(0, 1)
    return image, boxes


TOP = 20  # the most confident detections compared between PyTorch and an export


def _top(boxes, scores, count: int = TOP) -> tuple[np.ndarray, np.ndarray]:
    boxes, scores = np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32)
    order = np.argsort(-scores, kind="stable")[:count]
    return boxes[order], scores[order]


def _compare(reference: list, got: list) -> float:
    """The largest difference between each of PyTorch's ``TOP`` most confident detections of an
    image and its closest match (box corners and score) among the export's ``2 × TOP`` most
    confident, each matched once; inf when the export finds fewer. Matching, not rank order:
    near-tied scores (common in a young model) may swap ranks without any box changing."""
    worst = 0.0
    for (rb, rs), (gb, gs) in zip(reference, got):
        rb, rs = _top(rb, rs)
        gb, gs = _top(gb, gs, 2 * TOP)
        if len(gb) < len(rb):
            return float("inf")
        free = np.ones(len(gb), bool)
        for box, score in zip(rb, rs):
            distance = np.maximum(np.abs(gb - box).max(1), np.abs(gs - score))
            distance[~free] = np.inf
            match = int(distance.argmin())
            worst, free[match] = max(worst, float(distance[match])), False
    return worst


class DetectionTask(Task):
    name = "detection"
    collate = staticmethod(collate)
    parity_tolerance = 0.05  # pixels (boxes) and confidence (scores)

    @staticmethod
    def postprocess(outputs: list[dict], min_score: float, scales: list) -> list[list[list]]:
        """The detector's outputs → per image ``[left, top, right, bottom, confidence, class]``
        rows scoring at least ``min_score``, in the source image's pixels (``scales``: per image
        its x scale, y scale and (width, height))."""
        answers = []
        for (sx, sy, (w, h)), out in zip(scales, outputs):
            keep = out["scores"] >= min_score
            boxes = out["boxes"][keep].float()
            boxes[:, [0, 2]] = (boxes[:, [0, 2]] / sx).clamp(0, w)
            boxes[:, [1, 3]] = (boxes[:, [1, 3]] / sy).clamp(0, h)
            table = torch.cat([boxes, out["scores"][keep].float()[:, None],
                               out["labels"][keep].float()[:, None]], 1).cpu().double()  # one copy per image
            table[:, :4] = table[:, :4].round(decimals=2)
            table[:, 4] = table[:, 4].round(decimals=4)
            rows = table.tolist()
            for row in rows:
                row[5] = int(row[5])
            answers.append(rows)
        return answers

    @staticmethod
    def parity(reference: list, exported: list) -> float:
        """Per image (boxes, scores) of PyTorch and of an export: see :func:`_compare`."""
        return _compare(reference, exported)

    def __init__(self, spec: TrainingSpec) -> None:
        super().__init__(spec)
        self.data = DetectionData(Path(spec.dataset.dir))
        self.labels = self.data.labels
        self.aug = dict(spec.augment)

    def dataset(self) -> DetectionData:
        return self.data

    def streamed(self, split):
        if split is not None and self.decode_on_device(self.data.encoding):
            return DetectionImages(split.reader.path, len(split), encoded=True), self.collate
        return split, self.collate

    def to_device(self, batch, device, channels_last, training, generator):
        images, boxes = batch
        images = decode_jpegs(images, self.data.channels, device)  # streamed JPEG: nvJPEG
        inputs, targets = [], []
        for image, rows in zip(images, boxes):
            x = image.to(device, non_blocking=True).float().div_(255)
            if x.shape[0] == 1:
                x = x.expand(3, -1, -1)
            rows = rows.to(device)
            if training:
                x, rows = augment(x, rows, self.aug, generator)
            inputs.append(x)
            targets.append(targets_of(rows))
        return inputs, targets

    def build(self) -> torch.nn.Module:
        model = build_network(self.spec.network, len(self.labels), (self.data.width, self.data.height))
        # torchvision's SSDlite keeps batch-norm statistics with momentum 0.03, tuned for its
        # 600-epoch recipe; trained from scratch for minutes, the running statistics lag the
        # weights and evaluation sees nothing (mAP@0.5 0.001 after 4 epochs on shapes, 0.90
        # with 0.1, PyTorch's default). Momentum 0.1 everywhere.
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.momentum is not None:
                module.momentum = max(module.momentum, 0.1)
        return model

    def describe(self, model: torch.nn.Module) -> dict[str, Any]:
        return {"parameters": sum(p.numel() for p in model.parameters()),
                "input": [3, self.data.height, self.data.width], "labels": self.labels,
                "network": self.spec.network_name}

    def train_step(self, model, inputs, targets):
        losses = model(inputs, targets)
        loss = sum(losses.values())
        n = len(inputs)
        return loss, {loss_name(k): v.detach() * n for k, v in losses.items()}, n

    def evaluator(self, device: torch.device) -> "DetectionEvaluator":
        return DetectionEvaluator(self.labels, device)

    def result(self) -> dict[str, Any]:
        return {"labels": self.labels}


def _batchnorm_frozen(model: torch.nn.Module):
    """Train mode (so the detector returns its losses) with batch norm statistics untouched."""
    class Frozen:
        def __enter__(self):
            self.was = model.training
            model.train()
            for m in model.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def __exit__(self, *exc):
            model.train(self.was)
    return Frozen()


def pr_summary(result: dict, labels: list[str]) -> dict[str, Any]:
    """From torchmetrics' extended summary at IoU 0.5: the class-averaged PR curve, the F1-best
    point (precision, recall, confidence), P/R/F1 against confidence, per-class AP@0.5."""
    precision = result["precision"][0, :, :, 0, -1]  # (101 recall points, classes)
    scores = result["scores"][0, :, :, 0, -1]
    classes = [int(c) for c in result["classes"].reshape(-1).tolist()]
    valid = (precision >= 0).all(0)  # a class with ground truth
    recall = torch.linspace(0, 1, precision.shape[0])
    out: dict[str, Any] = {"per_class": []}
    map_per_class = result["map_per_class"].reshape(-1).tolist()
    for j, cls in enumerate(classes):
        name = labels[cls] if 0 <= cls < len(labels) else str(cls)
        ap50 = float(precision[:, j].clamp_min(0).mean()) if bool(valid[j]) else None
        ap = map_per_class[j] if j < len(map_per_class) and map_per_class[j] >= 0 else None
        out["per_class"].append({"class": cls, "label": name, "ap_50": ap50, "ap": ap})
    if not bool(valid.any()):
        return {**out, "precision": 0.0, "recall": 0.0, "threshold": 0.5, "curve": []}
    p = precision[:, valid].clamp_min(0).mean(1)
    s = scores[:, valid].clamp_min(0).mean(1)
    f1 = 2 * p * recall / (p + recall).clamp_min(1e-9)
    best = int(f1.argmax())
    curve = [{"recall": round(float(r), 3), "precision": round(float(pp), 4),
              "confidence": round(float(ss), 4), "f1": round(float(ff), 4)}
             for r, pp, ss, ff in zip(recall, p, s, f1)]
    return {**out, "precision": float(p[best]), "recall": float(recall[best]),
            "threshold": float(s[best]) if float(f1[best]) > 0 else 0.5, "curve": curve}


class DetectionEvaluator(Evaluator):
    """Validation loss components (train-mode forward, batch norm frozen) and COCO mAP."""

    def __init__(self, labels: list[str], device: torch.device) -> None:
        from torchmetrics.detection import MeanAveragePrecision

        self.labels = labels
        self.metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox",
                                           backend="faster_coco_eval", class_metrics=True,
                                           extended_summary=True)
        self.metric.warn_on_many_detections = False
        self.loss_sums: dict[str, float] = {}
        self.count = 0

    def update(self, model, inputs, targets) -> None:
        with torch.no_grad(), _batchnorm_frozen(model):
            losses = model(inputs, targets)
        n = len(inputs)
        for k, v in losses.items():
            self.loss_sums[loss_name(k)] = self.loss_sums.get(loss_name(k), 0.0) + float(v) * n
        self.loss_sums["loss"] = self.loss_sums.get("loss", 0.0) + float(sum(losses.values())) * n
        self.count += n
        detections = model(inputs)
        self.metric.update([{k: d[k].float().cpu() if k != "labels" else d[k].cpu()
                             for k in ("boxes", "scores", "labels")} for d in detections],
                           [{k: t[k].cpu() for k in ("boxes", "labels")} for t in targets])

    def compute(self):
        result = self.metric.compute()
        summary = pr_summary(result, self.labels)
        losses = {k: v / max(self.count, 1) for k, v in self.loss_sums.items()}
        scalars = {**losses, "map": float(result["map"]), "map_50": float(result["map_50"]),
                   "map_75": float(result["map_75"]), "precision": summary["precision"],
                   "recall": summary["recall"]}
        scalars = {k: (v if v == v else 0.0) for k, v in scalars.items()}  # no NaN on the chart
        return scalars, {"per_class": summary["per_class"], "threshold": summary["threshold"],
                         "pr_curve": summary["curve"]}
