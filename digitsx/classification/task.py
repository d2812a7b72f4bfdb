"""Image classification as a task of the training engine: LMDB images and labels in, logits
out, cross-entropy, accuracy while training; loss, top-1 / top-5, per-class accuracy and the
confusion matrix at validation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..engine.data import collate_encoded
from ..engine.spec import TrainingSpec
from ..engine.task import Evaluator, Task
from .augment import Augment, prepare
from .data import DatasetInfo, LmdbEncoded, decode_batch
from .networks import build_network, describe

MAX_CONFUSION = 100  # classes; a larger matrix is not kept


class ClassificationTask(Task):
    name = "classification"
    eval_batch_scale = 8  # validation is a forward pass: large batches, few of them

    @staticmethod
    def postprocess(outputs: torch.Tensor, top: int = 5) -> list[tuple[list[float], list[int]]]:
        """Logits (N, classes) → per image the ``top`` (probabilities, class indexes)."""
        probs = torch.softmax(outputs.float(), 1)
        values, indexes = probs.topk(min(top, probs.shape[1]), dim=1)
        return list(zip(values.tolist(), indexes.tolist()))  # the sync point

    @staticmethod
    def parity(reference, exported) -> float:
        """The largest |logit difference| between PyTorch and an export."""
        import numpy as np

        return float(np.abs(np.asarray(exported) - np.asarray(reference)).max())

    def __init__(self, spec: TrainingSpec) -> None:
        super().__init__(spec)
        self.info = DatasetInfo(Path(spec.dataset.dir))
        self.aug = Augment(**spec.augment)
        self.size = spec.input_size({"width": self.info.width, "height": self.info.height})
        self._mean: dict[str, torch.Tensor | None] = {}

    def dataset(self) -> DatasetInfo:
        return self.info

    def mean(self, device: torch.device) -> torch.Tensor | None:
        if str(device) not in self._mean:
            mean = self.info.mean()
            self._mean[str(device)] = mean.to(device) if mean is not None else None
        return self._mean[str(device)]

    def streamed(self, split):
        if self.decode_on_device(self.info.encoding) and split is not None:
            return LmdbEncoded(split.reader.path), collate_encoded
        return split, self.collate

    def to_device(self, batch, device, channels_last, training, generator):
        images, labels = batch
        if isinstance(images, list):  # encoded records (streamed): decode the batch here
            images = decode_batch(images, self.info.channels, device)
        images = images.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        x = prepare(images, self.mean(device), self.aug, training, generator)
        return x, labels.to(device, non_blocking=True)

    def build(self) -> torch.nn.Module:
        return build_network(self.spec, self.info)

    def describe(self, model: torch.nn.Module) -> dict[str, Any]:
        return {"layers": describe(model, self.info.channels, self.size),
                "parameters": sum(p.numel() for p in model.parameters()),
                "input": [self.info.channels, self.size, self.size], "labels": self.info.labels}

    def train_step(self, model, inputs, targets):
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        correct = (logits.detach().argmax(1) == targets).sum() * 100.0
        return loss, {"accuracy": correct}, int(targets.shape[0])

    def evaluator(self, device: torch.device) -> "ClassificationEvaluator":
        return ClassificationEvaluator(len(self.info.labels), device)

    def result(self) -> dict[str, Any]:
        return {"labels": self.info.labels}


class ClassificationEvaluator(Evaluator):
    """Loss, top-1 and top-5 accuracy (percent), per-class accuracy, the confusion matrix."""

    def __init__(self, classes: int, device: torch.device) -> None:
        self.k = classes
        self.confusion = torch.zeros(classes * classes, dtype=torch.long, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.top5 = torch.zeros((), dtype=torch.long, device=device)
        self.total = 0

    def update(self, model, inputs, targets) -> None:
        logits = model(inputs)
        self.loss_sum += F.cross_entropy(logits.float(), targets, reduction="sum")
        pred = logits.argmax(1)
        self.confusion += torch.bincount(targets * self.k + pred, minlength=self.k * self.k)
        self.top5 += (logits.topk(min(5, self.k), 1).indices == targets[:, None]).any(1).sum()
        self.total += int(targets.shape[0])

    def compute(self):
        matrix = self.confusion.view(self.k, self.k).cpu()
        total = max(self.total, 1)
        per_class = (matrix.diag().float() / matrix.sum(1).clamp_min(1).float() * 100).tolist()
        scalars = {"loss": self.loss_sum.item() / total,
                   "accuracy": 100.0 * matrix.diag().sum().item() / total,
                   "accuracy_top5": 100.0 * self.top5.item() / total}
        return scalars, {"per_class": per_class,
                         "confusion": matrix.tolist() if self.k <= MAX_CONFUSION else None}
