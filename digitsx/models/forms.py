"""The image classification model form: DIGITS's fields and defaults → one spec per job.

Comma lists in ``learning_rate`` and ``batch_size`` make one job per combination (DIGITS's
sweep). Nothing here imports torch: the web process validates, the worker trains.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets import CLASSIFICATION as DATASET_KIND
from ..datasets.forms import FieldReader
from ..errors import ValidationError
from ..jobs.resources import Request
from ..jobs.status import Status
from . import CLASSIFICATION, PRETRAINED, checkpoint
from .schedules import DEFAULTS as LR_DEFAULTS, POLICIES

SOLVERS = ("SGD", "NESTEROV", "ADAM", "ADAMW", "RMSPROP", "ADAGRAD", "ADADELTA")
STANDARD = ("lenet", "alexnet", "googlenet", "resnet18", "resnet50", "mobilenet_v3_small",
            "mobilenet_v3_large", "efficientnet_b0")
DEFAULTS: dict[str, Any] = {
    "method": "standard", "standard_networks": "lenet", "framework": "torch",
    "train_epochs": "30", "snapshot_interval": "1", "val_interval": "1", "random_seed": "",
    "batch_size": "64", "batch_accumulation": "1", "solver_type": "SGD", "rms_decay": "0.99",
    "learning_rate": "0.01", "lr_policy": "step", "shuffle": "y", "select_gpu_count": "1",
    "use_mean": "image", "crop_size": "", "aug_flip": "none", "aug_quad_rot": "none",
    "aug_rot": "0", "aug_scale": "0", "aug_noise": "0", "aug_hsv_use": "", "aug_hsv_h": "0.02",
    "aug_hsv_s": "0.04", "aug_hsv_v": "0.06", "amp": "y", "channels_last": "y",
    "keep_snapshots": "0", "momentum": "", "weight_decay": "",
    "pretrained_freeze": "", "pretrained_lr_mult": "1",
    **{k: str(v) for k, v in LR_DEFAULTS.items()},
}


@dataclass
class ModelJob:
    """One job the form asks for (a sweep gives several)."""

    name: str
    spec: dict


def _numbers(r: FieldReader, name: str, kind, low, high) -> list:
    values = []
    for part in r.text(name).split(","):
        part = part.strip()
        try:
            value = kind(part)
        except ValueError:
            r.error(name, f"expected a number or a comma list of numbers, got {part!r}")
            continue
        if not low <= value <= high:
            r.error(name, f"{value:g} is not between {low:g} and {high:g}")
            continue
        values.append(value)
    return values


def parse(values: dict[str, Any], store, config: dict) -> tuple[list[ModelJob], Any, str, Request]:
    """Validate the form: (jobs, dataset job, group name, resource request)."""
    r = FieldReader({**DEFAULTS, **{k: v for k, v in values.items() if v is not None}})
    name = r.name("model_name")
    group = r.name("group_name", required=False)
    dataset = _dataset(r, store)
    network = _network(r, store)
    if r.text("framework") not in ("torch", "caffe"):
        r.error("framework", "must be torch (caffe is accepted and runs the same network)")
    solver_type = r.choice("solver_type", SOLVERS)
    policy = r.choice("lr_policy", POLICIES)
    rates = _numbers(r, "learning_rate", float, 1e-12, 100)
    batches = _numbers(r, "batch_size", int, 1, 65536)
    lr_params = {k: r.text(k) for k in LR_DEFAULTS}
    for key in ("lr_step_size", "lr_step_gamma", "lr_exp_gamma", "lr_inv_gamma", "lr_inv_power",
                "lr_poly_power", "lr_sigmoid_step", "lr_sigmoid_gamma", "lr_warmup", "lr_onecycle_div"):
        lr_params[key] = r.number(key, -1e6, 1e6, float)
    crop = r.number("crop_size", 1, 4096, optional=True)
    if crop and dataset is not None:
        image = dataset.spec.get("image", {})
        if crop > min(image.get("width", crop), image.get("height", crop)):
            r.error("crop_size", f"larger than the dataset's images "
                                 f"({image.get('width')}×{image.get('height')})")
    augment = {"use_mean": r.choice("use_mean", ("none", "image", "pixel")), "crop_size": crop,
               "flip": r.choice("aug_flip", ("none", "fliplr", "flipud", "fliplrud")),
               "quad_rot": r.choice("aug_quad_rot", ("none", "rot90", "rot180", "rotall")),
               "rot": r.number("aug_rot", 0, 180, float), "scale": r.number("aug_scale", 0, 1, float),
               "noise": r.number("aug_noise", 0, 1, float), "hsv_use": r.flag("aug_hsv_use"),
               "hsv_h": r.number("aug_hsv_h", 0, 0.5, float), "hsv_s": r.number("aug_hsv_s", 0, 0.5, float),
               "hsv_v": r.number("aug_hsv_v", 0, 0.5, float)}
    common = {
        "train_epochs": r.number("train_epochs", 1, 100000),
        "snapshot_interval": r.number("snapshot_interval", 0.01, 100000, float),
        "val_interval": r.number("val_interval", 0.01, 100000, float),
        "random_seed": r.number("random_seed", 0, 2**31 - 1, optional=True),
        "batch_accumulation": r.number("batch_accumulation", 1, 1024),
        "shuffle": r.flag("shuffle"), "amp": r.flag("amp"), "channels_last": r.flag("channels_last"),
        "keep_snapshots": r.number("keep_snapshots", 0, 100000),
        "framework": "torch", "requested_framework": r.text("framework"),
    }
    request = _gpus(r, config)
    momentum = r.number("momentum", 0, 1, float, optional=True)
    weight_decay = r.number("weight_decay", 0, 1, float, optional=True)
    rms_decay = r.number("rms_decay", 0, 1, float)
    cap = int(config.get("MAX_SWEEP") or 100)
    if len(rates) * len(batches) > cap:
        r.error("learning_rate", f"a sweep of {len(rates)} learning rates × {len(batches)} batch "
                                 f"sizes makes {len(rates) * len(batches)} jobs; at most {cap} "
                                 f"(DIGITSX_MAX_SWEEP)")
    if r.errors:
        raise ValidationError(r.errors)
    jobs = []
    combos = list(itertools.product(rates, batches))
    for lr, bs in combos:
        solver = {"type": solver_type, "learning_rate": lr, "rms_decay": rms_decay,
                  # DIGITS's derivations: momentum 0.9 (not for AdaGrad/RMSprop), decay = lr / 100
                  "momentum": momentum if momentum is not None else
                  (0.0 if solver_type in ("ADAGRAD", "RMSPROP", "ADADELTA", "ADAM", "ADAMW") else 0.9),
                  "weight_decay": weight_decay if weight_decay is not None else lr / 100}
        spec = {"dataset": {"id": dataset.id, "dir": str(store.job_dir(dataset.id))},
                "network": network, "solver": solver, "lr": {"policy": policy, **lr_params},
                "batch_size": bs, "augment": augment, "resources": request.to_dict(), **common,
                "form": {k: str(v) for k, v in values.items() if k != "username"}}
        label = name if len(combos) == 1 else f"{name} (lr {lr:g}, batch {bs})"
        jobs.append(ModelJob(label, spec))
    return jobs, dataset, group, request


def _dataset(r: FieldReader, store):
    job_id = r.text("dataset")
    if not job_id:
        r.error("dataset", "required: the id of a finished image classification dataset")
        return None
    job = store.db.get(job_id)
    if job is None or job.kind != DATASET_KIND:
        r.error("dataset", f"{job_id} is not an image classification dataset")
        return None
    if job.status != Status.DONE.value:
        r.error("dataset", f"dataset {job.name} is {job.status}; only finished datasets can be used")
        return None
    return job


def _network(r: FieldReader, store) -> dict:
    method = r.choice("method", ("standard", "previous", "pretrained", "custom"))
    if method == "custom":
        source = r.text("custom_network")
        if "def build" not in source:
            r.error("custom_network", "define build(num_classes, in_channels, image_size) "
                                      "returning a torch.nn.Module")
        return {"method": "custom", "source": source}
    if method == "previous":
        job_id = r.text("previous_networks")
        job = store.db.get(job_id) if job_id else None
        if job is None or job.kind != CLASSIFICATION:
            r.error("previous_networks", f"{job_id or '(none)'} is not an image classification model")
            return {"method": "previous"}
        epoch = r.text(f"{job_id}-snapshot") or r.text("previous_snapshot")
        snaps = sorted(float(s["epoch"]) for s in job.result.get("snapshots", []))
        if not snaps:
            r.error("previous_networks", f"model {job.name} has no snapshot")
            return {"method": "previous"}
        chosen = float(epoch) if epoch else snaps[-1]
        path = checkpoint.snapshot_path(Path(store.job_dir(job_id)), chosen)
        if not path.exists():
            r.error("previous_networks", f"model {job.name} has no snapshot for epoch {chosen:g}")
        name = job.spec.get("network", {}).get("name")
        return {"method": "standard", "name": name, "previous": {"job_id": job_id, "epoch": chosen,
                                                                  "file": str(path)}}
    if method == "pretrained":
        job_id = r.text("pretrained_networks")
        job = store.db.get(job_id) if job_id else None
        if job is None or job.kind != PRETRAINED or job.status != Status.DONE.value:
            r.error("pretrained_networks", f"{job_id or '(none)'} is not a ready pretrained model")
            return {"method": "pretrained"}
        return {"method": "pretrained", "job_id": job_id, "dir": str(store.job_dir(job_id)),
                "name": job.name, "freeze": r.flag("pretrained_freeze"),
                "lr_mult": r.number("pretrained_lr_mult", 0, 10, float)}
    return {"method": "standard", "name": r.choice("standard_networks", STANDARD)}


def _gpus(r: FieldReader, config: dict) -> Request:
    single = r.text("select_gpu")
    specific = r.text("select_gpus_list") or r.text("select_gpus") or \
        (single if single not in ("", "next") else "")
    if specific:
        try:
            ids = tuple(int(g) for g in specific.replace(" ", "").split(",") if g)
        except ValueError:
            r.error("select_gpus", f"expected GPU indexes like 0,1, got {specific!r}")
            return Request(gpu_count=1)
        present = config.get("GPU_INDEXES")
        missing = [g for g in ids if present is not None and g not in present]
        if missing:
            r.error("select_gpus", f"no GPU {', '.join(map(str, missing))} on this server "
                                   f"(GPUs: {', '.join(map(str, present)) or 'none: it trains on the CPU'})")
        return Request(gpu_ids=ids)
    count = r.number("select_gpu_count", 1, 64)
    return Request(gpu_count=count or 1)
