"""Semantic segmentation as a task of the training engine: per-pixel cross-entropy (ignore index
255), pixel accuracy while training; loss, pixel accuracy, mIoU, per-class IoU and the class
confusion matrix (a bincount on the device) at validation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..engine.spec import TrainingSpec
from ..engine.task import Evaluator, Task
from . import IGNORE
from ..engine.data import collate_encoded, decode_jpegs
from .data import SegmentationData, SegmentationImages
from .networks import build_network, input_channels


def augment(images: torch.Tensor, labels: torch.Tensor, aug: dict, gen: torch.Generator | None):
    """Flip and scale jitter move labels with pixels (labels nearest); colour jitter on images."""
    n = images.shape[0]
    if aug.get("flip") == "fliplr":
        flip = torch.rand(n, generator=gen, device=images.device) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        labels = torch.where(flip[:, None, None], labels.flip(-1), labels)
    scale = float(aug.get("scale") or 0)
    if scale > 0:
        h, w = images.shape[-2:]
        s = 1 - scale * float(torch.rand((), generator=gen, device=images.device))
        ch, cw = max(1, int(h * s)), max(1, int(w * s))
        y0 = int(float(torch.rand((), generator=gen, device=images.device)) * (h - ch))
        x0 = int(float(torch.rand((), generator=gen, device=images.device)) * (w - cw))
        images = F.interpolate(images[..., y0:y0 + ch, x0:x0 + cw], size=(h, w), mode="bilinear",
                               align_corners=False)
        labels = F.interpolate(labels[:, None, y0:y0 + ch, x0:x0 + cw].float(), size=(h, w),
                               mode="nearest")[:, 0].long()
    jitter = float(aug.get("color") or 0)
    if jitter > 0:
        b = 1 + jitter * (2 * torch.rand(n, 1, 1, 1, generator=gen, device=images.device) - 1)
        images = (images * b).clamp(0, 1)
    return images, labels


class SegmentationTask(Task):
    name = "segmentation"

    @staticmethod
    def postprocess(outputs: torch.Tensor, size: tuple[int, int] | None = None) -> list:
        """Logits (N, classes, H, W) → per image its uint8 class map (numpy H×W), the logits
        first resized (bilinear) to ``size`` (height, width) when given."""
        if size is not None and tuple(outputs.shape[-2:]) != tuple(size):
            outputs = F.interpolate(outputs.float(), size=tuple(size), mode="bilinear", align_corners=False)
        return list(outputs.argmax(1).to(torch.uint8).cpu().numpy())

    @staticmethod
    def parity(reference, exported) -> float:
        """The largest |logit difference| between PyTorch and an export."""
        import numpy as np

        return float(np.abs(np.asarray(exported) - np.asarray(reference)).max())

    def __init__(self, spec: TrainingSpec) -> None:
        super().__init__(spec)
        self.data = SegmentationData(Path(spec.dataset.dir))
        self.labels = self.data.labels
        self.aug = dict(spec.augment)
        self.channels = input_channels(spec.network, self.data.channels)

    def dataset(self) -> SegmentationData:
        return self.data

    def streamed(self, split):
        if split is not None and self.decode_on_device(self.data.encoding):
            return SegmentationImages(split.reader.path, len(split), encoded=True), collate_encoded
        return split, self.collate

    def to_device(self, batch, device, channels_last, training, generator):
        images, labels = batch
        if isinstance(images, list):  # streamed JPEG: decoded here as a batch (nvJPEG on CUDA)
            images = torch.stack(decode_jpegs(images, self.data.channels, device))
        x = images.to(device, non_blocking=True).float().div_(255)
        if x.shape[1] != self.channels:
            x = x.expand(-1, self.channels, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)
        y = labels.to(device, non_blocking=True).long()
        if training:
            x, y = augment(x, y, self.aug, generator)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def build(self) -> torch.nn.Module:
        model = build_network(self.spec.network, len(self.labels), self.channels)
        for module in model.modules():  # as for detection: short from-scratch runs need the
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.momentum:  # running
                module.momentum = max(module.momentum, 0.1)  # statistics to follow the weights
        return model

    def describe(self, model: torch.nn.Module) -> dict[str, Any]:
        return {"parameters": sum(p.numel() for p in model.parameters()),
                "input": [self.channels, self.data.height, self.data.width], "labels": self.labels}

    def train_step(self, model, inputs, targets):
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets, ignore_index=IGNORE)
        valid = targets != IGNORE
        correct = ((logits.detach().argmax(1) == targets) & valid).sum().float()
        n = int(targets.shape[0])
        # pixel accuracy (percent) of the batch, weighted by images as the engine averages
        return loss, {"accuracy": correct / valid.sum().clamp_min(1) * 100.0 * n}, n

    def evaluator(self, device: torch.device) -> "SegmentationEvaluator":
        return SegmentationEvaluator(len(self.labels), device)

    def result(self) -> dict[str, Any]:
        return {"labels": self.labels, "palette": self.data.meta.get("palette")}


class SegmentationEvaluator(Evaluator):
    def __init__(self, classes: int, device: torch.device) -> None:
        self.k = classes
        self.confusion = torch.zeros(classes * classes, dtype=torch.long, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.images = 0

    def update(self, model, inputs, targets) -> None:
        logits = model(inputs).float()
        self.loss_sum += F.cross_entropy(logits, targets, ignore_index=IGNORE) * targets.shape[0]
        self.add(logits.argmax(1), targets)
        self.images += int(targets.shape[0])

    def add(self, predicted: torch.Tensor, targets: torch.Tensor) -> None:
        valid = (targets != IGNORE) & (targets < self.k)
        self.confusion += torch.bincount(targets[valid] * self.k + predicted[valid], minlength=self.k * self.k)

    def compute(self):
        scalars, details = summarize(self.confusion.view(self.k, self.k).cpu())
        scalars["loss"] = self.loss_sum.item() / max(self.images, 1)
        return scalars, details


def summarize(matrix: torch.Tensor) -> tuple[dict[str, float], dict[str, Any]]:
    """(pixel accuracy %, mIoU over the classes present) and per-class IoU + the confusion matrix."""
    matrix = matrix.double()
    tp = matrix.diag()
    union = matrix.sum(0) + matrix.sum(1) - tp
    present = matrix.sum(1) > 0
    iou = torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))
    miou = float(iou[present].mean()) if bool(present.any()) else 0.0
    total = float(matrix.sum())
    return ({"accuracy": 100.0 * float(tp.sum()) / max(total, 1.0), "miou": miou},
            {"per_class_iou": [None if v != v else round(float(v), 4) for v in iou.tolist()],
             "confusion": matrix.long().tolist() if matrix.shape[0] <= 100 else None})
