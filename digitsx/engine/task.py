"""What a task gives the engine: a :class:`Task` subclass (classification's is
:class:`digitsx.classification.task.ClassificationTask`).

The engine calls, per batch, ``to_device`` → ``train_step`` (training) or ``evaluator.update``
(validation); it owns the optimizer, AMP, DDP, the LR policy and snapshots. Inference and
exports ask the same class: ``postprocess`` (a batch of outputs → answers) and ``parity`` (an
export against PyTorch). A task's metrics
are plain names (``accuracy``, ``map_50``, ``miou``...): the job page charts whatever it gets.
"""
from __future__ import annotations

from typing import Any

import torch


class Evaluator:
    """Accumulates a validation pass on the device; ``compute`` reads it back once."""

    def update(self, model: torch.nn.Module, inputs: Any, targets: Any) -> None:
        raise NotImplementedError

    def compute(self) -> tuple[dict[str, float], dict[str, Any]]:
        """(scalar metrics for the chart, details for the job's result: tables, matrices)."""
        raise NotImplementedError


class Task:
    """One kind of learning problem. Subclasses set ``name`` and implement the methods."""

    name = "task"
    collate: Any = None  # the DataLoader's collate_fn (detection batches are lists)
    eval_batch_scale = 2  # validation batches are this many training batches (no gradients)
    fixed_input_size = True  # every batch has one shape: cudnn.benchmark pays off

    def streamed(self, split: Any) -> tuple[Any, Any]:
        """(dataset, collate) for loader processes when a split does not fit in memory. A task
        may hand the processes encoded records instead (a dataset with ``encoded = True``), and
        decode a batch on the device in ``to_device`` (:func:`~.data.decode_jpegs`; every task
        does on CUDA with JPEG, see :meth:`decode_on_device`)."""
        return split, self.collate

    def decode_on_device(self, encoding: str) -> bool:
        """Stream ``encoding`` records undecoded and decode batches on the device: JPEG on CUDA
        by default (nvJPEG), or wherever the spec's ``decode`` says ``device``; ``host`` turns
        it off."""
        choice = self.spec.extra.get("decode", "auto")
        if encoding != "jpg" or choice == "host":
            return False
        return choice == "device" or (self.device is not None and self.device.type == "cuda")

    def __init__(self, spec: Any) -> None:
        self.spec = spec  # a TrainingSpec (the engine's fields; a task's own are in spec.extra)
        self.out: Any = None  # the trainer's Emitter, set before build(): log and result lines
        self.device: torch.device | None = None  # set by the trainer before build()

    # -- data ---------------------------------------------------------------------------
    def dataset(self) -> Any:
        """The dataset's folder reader: ``split(name)`` → a torch Dataset or None, ``labels``."""
        raise NotImplementedError

    def to_device(self, batch: Any, device: torch.device, channels_last: bool,
                  training: bool, generator: torch.Generator | None) -> tuple[Any, Any]:
        """(inputs, targets) on the device, normalised and (training) augmented."""
        raise NotImplementedError

    # -- network ------------------------------------------------------------------------
    def build(self) -> torch.nn.Module:
        """The network the spec asks for, with its starting weights."""
        raise NotImplementedError

    def param_groups(self, net: torch.nn.Module, model: torch.nn.Module) -> list[dict[str, Any]]:
        """The optimizer's parameter groups (``lr_mult`` scales the policy's rate); ``net`` is
        the bare module, ``model`` what trains (DDP-wrapped under several processes). By
        default: loaded and fresh layers apart (:func:`.transfer.param_groups`)."""
        from .transfer import param_groups

        return param_groups(net, model, self.spec.network, self.out)

    def describe(self, model: torch.nn.Module) -> dict[str, Any]:
        """What ``network.json`` records (layers, parameters, input shape...)."""
        return {"parameters": sum(p.numel() for p in model.parameters())}

    # -- steps --------------------------------------------------------------------------
    def train_step(self, model: torch.nn.Module, inputs: Any,
                   targets: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        """(the loss to minimise, per-batch sums to report as means, the batch's size)."""
        raise NotImplementedError

    def evaluator(self, device: torch.device) -> Evaluator:
        raise NotImplementedError

    def result(self) -> dict[str, Any]:
        """What the job's result gets with each validation besides the metrics (labels...)."""
        return {}

    # -- inference: the warm worker, test jobs, the exports' checks ----------------------
    parity_tolerance = 1e-3  # the largest :meth:`parity` an export may show and still ship

    @staticmethod
    def postprocess(outputs: Any, **options: Any) -> list[Any]:
        """A batch of the network's outputs (eval mode) → one answer per image, in the task's
        terms (classes and scores, boxes, a class map). A static method: the inference workers
        use it without a training spec."""
        raise NotImplementedError

    @staticmethod
    def parity(reference: Any, exported: Any) -> float:
        """How far an export's outputs are from PyTorch's on the same images (0: the same, inf:
        not comparable); the export ships when it is within :attr:`parity_tolerance`."""
        raise NotImplementedError
