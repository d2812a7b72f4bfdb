"""Every task's model form: the engine's fields (:data:`TRAINING`) → one spec per job, the
generic tasks' network choices (:func:`generic_form`, :func:`generic_model`), and the dataset
and backbone a form names.

Comma lists in ``learning_rate`` and ``batch_size`` make one job per combination (DIGITS's
sweep). Nothing here imports torch: the web process validates, the worker trains.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.spec import DatasetRef, Schedule, Solver, TrainingSpec
from ..errors import ValidationError
from ..fields import Field, FieldReader, Form
from ..jobs import kinds
from ..search.space import SEARCH
from ..jobs.resources import Request
from ..jobs.status import Status
from ..engine import checkpoint
from . import CLASSIFICATION, PRETRAINED, cluster_fields, code_policy, published, registry
from ..engine.schedules import BOUNDS as LR_BOUNDS, DEFAULTS as LR_DEFAULTS, POLICIES

SOLVERS = ("SGD", "NESTEROV", "ADAM", "ADAMW", "RMSPROP", "ADAGRAD", "ADADELTA")
LR_FIELDS = {k: Field("floats", v, *LR_BOUNDS[k], help="percent of training: where the rate drops")
             if k == "lr_multistep_values" else Field("float", v, *LR_BOUNDS[k])
             for k, v in LR_DEFAULTS.items()}
TRAINING = Form("Training", {  # the engine's fields: every task's model form has them
    "model_name": Field("name", required=True),
    "group_name": Field("name"),
    "dataset": Field("id", required=True, help="the id of a finished dataset"),
    "framework": Field("choice", "torch", options=("torch", "caffe"),
                       help="caffe is accepted and runs the same network"),
    "train_epochs": Field("int", 30, 1, 100000),
    "snapshot_interval": Field("float", 1, 0.01, 100000, help="epochs between snapshots"),
    "val_interval": Field("float", 1, 0.01, 100000, help="epochs between validations"),
    "random_seed": Field("int", None, 0, 2**31 - 1, blank=True),
    "batch_size": Field("ints", 64, 1, 65536, help="a comma list sweeps"),
    "batch_accumulation": Field("int", 1, 1, 1024),
    "solver_type": Field("choice", "SGD", options=SOLVERS),
    "learning_rate": Field("floats", 0.01, 1e-12, 100, help="a comma list sweeps"),
    "lr_policy": Field("choice", "step", options=POLICIES),
    **LR_FIELDS,
    "momentum": Field("float", None, 0, 1, blank=True, help="blank: 0.9 (SGD), 0 (adaptive)"),
    "weight_decay": Field("float", None, 0, 1, blank=True, help="blank: learning rate / 100"),
    "rms_decay": Field("float", 0.99, 0, 1),
    "shuffle": Field("flag", "y"),
    "amp": Field("flag", "y", help="mixed precision on a GPU"),
    "channels_last": Field("flag", "y"),
    "keep_snapshots": Field("int", 0, 0, 100000, help="0 keeps every snapshot the disk budget allows (the best epoch's is always kept)"),
    "snapshot_budget_mb": Field("float", 2048, 0, 1e9, help="with keep_snapshots 0: the oldest snapshots go "
                                                          "once all of them pass this many MB (the best and the "
                                                          "last stay; 0: no limit)"),
    "early_stopping_patience": Field("int", None, 1, 100000, blank=True,
                                     help="stop after this many validations without improvement of "
                                          "the main validation metric (blank: never)"),
    "early_stopping_min_delta": Field("float", 0, 0, 1e9, help="the smallest change that counts as an improvement"),
    "priority": Field("choice", "normal", options=("low", "normal", "high"),
                      help="among waiting jobs, higher first; equal: users take turns"),
    "preemptible": Field("flag", "", help="a waiting high-priority job may pause this one: it "
                                          "snapshots, waits, and resumes from that snapshot"),
    "select_gpu": Field("text", help="a GPU index, or next"),
    "select_gpus": Field("text", help="GPU indexes: 0,1"),
    "select_gpus_list": Field("text", help="GPU indexes: 0,1"),
    "select_gpu_count": Field("int", 1, 1, 64),
    **published.FIELDS,
    **cluster_fields.FIELDS,
}) | SEARCH  # the Search section: a study of trials instead of one job (digitsx.search)
@dataclass
class ModelJob:
    """One job the form asks for (a sweep gives several)."""

    name: str
    spec: dict


def training_jobs(r: FieldReader, values: dict[str, Any], name: str, dataset, network: dict,
                  augment: dict, store, config: dict, kind: str) -> tuple[list[ModelJob], Request]:
    """The engine's fields of any task's model form (:data:`TRAINING`) → one spec per learning
    rate × batch size; ValidationError with every problem the reader collected. Every task's
    create passes here: a network that runs submitted code is refused (403) without the
    permission, decided from the parsed ``network`` (:mod:`.code_policy`)."""
    code_policy.require_for_network(network, store)
    r.choice("framework")
    solver_type = r.choice("solver_type")
    policy = r.choice("lr_policy")
    rates = r.numbers("learning_rate")
    batches = [int(b) for b in r.numbers("batch_size")]
    schedule = lr_params(r)
    common = {
        "train_epochs": r.number("train_epochs"),
        "snapshot_interval": r.number("snapshot_interval"),
        "val_interval": r.number("val_interval"),
        "random_seed": r.number("random_seed"),
        "batch_accumulation": r.number("batch_accumulation"),
        "shuffle": r.flag("shuffle"), "amp": r.flag("amp"), "channels_last": r.flag("channels_last"),
        "keep_snapshots": r.number("keep_snapshots"),
        "snapshot_budget_mb": r.number("snapshot_budget_mb"),
        "framework": "torch", "requested_framework": r.text("framework"),
    }
    request = _gpus(r, config)
    cluster = cluster_fields.read(r, config)
    extra: dict[str, Any] = {"slurm": cluster} if cluster else {}
    extra.update(steering(r, kind))
    momentum = r.number("momentum")
    weight_decay = r.number("weight_decay")
    rms_decay = r.number("rms_decay")
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
        solver = Solver(
            solver_type, lr, rms_decay=rms_decay,
            # DIGITS's derivations: momentum 0.9 (not for AdaGrad/RMSprop), decay = lr / 100
            momentum=momentum if momentum is not None else
            (0.0 if solver_type in ("ADAGRAD", "RMSPROP", "ADADELTA", "ADAM", "ADAMW") else 0.9),
            weight_decay=weight_decay if weight_decay is not None else lr / 100)
        spec = TrainingSpec(
            DatasetRef(str(store.job_dir(dataset.id)), dataset.id), network, solver,
            Schedule(policy, schedule), bs, augment, request.to_dict(), **common,
            form={k: str(v) for k, v in values.items() if k != "username"},
            extra=extra).to_dict()
        label = name if len(combos) == 1 else f"{name} (lr {lr:g}, batch {bs})"
        jobs.append(ModelJob(label, spec))
    return jobs, request


def steering(r: FieldReader, kind: str) -> dict[str, Any]:
    """The spec's ``monitor`` (the metric that picks the best epoch: the task's main validation
    metric), ``early_stopping``, ``priority`` and ``preemptible``."""
    main = kinds.get(kind).main_metric
    out: dict[str, Any] = {"priority": r.choice("priority"), "preemptible": r.flag("preemptible")}
    if main:
        out["monitor"] = {"metric": main[0].split("/", 1)[1], "mode": "max"}
    patience = r.number("early_stopping_patience")
    if patience:
        out["early_stopping"] = {"patience": int(patience),
                                 "min_delta": float(r.number("early_stopping_min_delta") or 0)}
    return out


def lr_params(r: FieldReader) -> dict[str, Any]:
    """The LR policy's parameters, checked: numbers, and the multistep comma list as text."""
    params: dict[str, Any] = {}
    for key in LR_DEFAULTS:
        if key == "lr_multistep_values":
            params[key] = ",".join(f"{v:g}" for v in r.numbers(key))
        else:
            params[key] = r.number(key)
    return params


BACKBONE = {
    "backbone_job": Field("id", help="method=backbone: an image classification model or a pretrained model"),
    "backbone_snapshot": Field("text", help="its epoch (blank: the last)"),
}


def backbone_source(r: FieldReader, store) -> dict:
    """``method=backbone``: the classification weights (a model's snapshot or a pretrained
    model) a detector's or segmenter's backbone starts from."""
    from pathlib import Path


    job_id = r.text("backbone_job")
    job = store.db.get(job_id) if job_id else None
    if job is not None and job.kind == PRETRAINED and job.status == Status.DONE.value:
        return {"job_id": job_id, "name": job.name, "file": str(Path(store.job_dir(job_id)) / "model.pt")}
    snaps = sorted(float(s["epoch"]) for s in (job.result.get("snapshots", []) if job else []))
    if job is None or job.kind != CLASSIFICATION or not snaps:
        r.error("backbone_job", f"{job_id or '(none)'} is not an image classification model with a "
                                f"snapshot, nor a ready pretrained model")
        return {}
    try:
        epoch = float(r.text("backbone_snapshot") or snaps[-1])
    except ValueError:
        r.error("backbone_snapshot", "expected an epoch number")
        return {}
    path = checkpoint.snapshot_path(Path(store.job_dir(job_id)), epoch)
    if not path.exists():
        r.error("backbone_snapshot", f"model {job.name} has no snapshot for epoch {epoch:g}")
    return {"job_id": job_id, "name": f"{job.name} (epoch {epoch:g})", "file": str(path)}


def generic_form(title: str, task: str, default: str, what: str, signature: str,
                 flip: str, scale: str, color: str) -> Form:
    """A generic task's model form (detection, segmentation): :data:`TRAINING`, the network
    (standard, continued, backbone from classification weights, custom), and augmentation that
    moves the boxes or labels with the pixels (``flip``, ``scale``, ``color``: the helps)."""
    return TRAINING | Form(title, {
        "method": Field("choice", "standard", options=("standard", "previous", "backbone", "custom"),
                        help="backbone: a standard network whose backbone starts from a classification "
                             "model's snapshot or a pretrained model"),
        **BACKBONE,
        "standard_networks": Field("choice", default, options=registry.names(task)),
        "previous_networks": Field("id", help=f"a {what} model to continue from"),
        "previous_snapshot": Field("text", help="its epoch (blank: the last)"),
        "custom_network": Field("text", help=f"Python defining {signature}; needs can_run_code"),
        "aug_flip": Field("choice", "fliplr", options=("none", "fliplr"), help=flip),
        "aug_scale": Field("float", 0.3, 0, 0.9, help=scale),
        "aug_color": Field("float", 0.2, 0, 1, help=color),
    })


def generic_model(form: Form, defaults: dict, values: dict[str, Any], store, config: dict,
                  dataset_kind: str, model_kind: str, what: str, signature: str, task: str):
    """A generic task's model form (detection, segmentation): the dataset of ``dataset_kind``, a
    standard network, a custom one (``signature``), one continued from a ``model_kind`` snapshot,
    or a standard one whose backbone starts from classification weights or published weights
    (``task``'s lists); box- or label-moving augmentation; the engine's fields. Returns (jobs, dataset job, group, resource request)."""
    values = {**defaults, **values}  # the tasks' solver defaults differ from DIGITS's
    r = form.reader(values)
    name = r.name("model_name")
    group = r.name("group_name")
    dataset = dataset_job(r, store, dataset_kind, f"{what} dataset")
    method = r.choice("method")
    network: dict[str, Any] = {"method": "standard", "name": r.choice("standard_networks")}
    if method == "custom":
        source = r.text("custom_network")
        if "def build" not in source:
            r.error("custom_network", f"define {signature} returning a torch.nn.Module")
        network = {"method": "custom", "source": source}
    elif method == "previous":
        job_id = r.text("previous_networks")
        job = store.db.get(job_id) if job_id else None
        snaps = sorted(float(s["epoch"]) for s in (job.result.get("snapshots", []) if job else []))
        if job is None or job.kind != model_kind or not snaps:
            article = "an" if what[0] in "aeiou" else "a"
            r.error("previous_networks", f"{job_id or '(none)'} is not {article} {what} model with a snapshot")
        else:
            try:
                epoch = float(r.text("previous_snapshot") or snaps[-1])
            except ValueError:
                epoch = snaps[-1]
                r.error("previous_snapshot", "expected an epoch number")
            path = checkpoint.snapshot_path(Path(store.job_dir(job_id)), epoch)
            if not path.exists():
                r.error("previous_snapshot", f"model {job.name} has no snapshot for epoch {epoch:g}")
            network = {**without_weights(job.spec.get("network", {})),
                       "previous": {"job_id": job_id, "epoch": epoch, "file": str(path)}}
    elif method == "backbone":
        network["backbone"] = backbone_source(r, store)
    network = published.read(r, task, network, config)
    augment = {"flip": r.choice("aug_flip"), "scale": r.number("aug_scale"), "color": r.number("aug_color")}
    jobs, request = training_jobs(r, values, name, dataset, network, augment, store, config, model_kind)
    return jobs, dataset, group, request


def without_weights(network: dict) -> dict:
    """A network to continue: its own snapshot replaces where its weights first came from."""
    return {k: v for k, v in (network or {}).items() if k not in ("weights", "weights_backbone")}


def dataset_job(r: FieldReader, store, kind: str, what: str):
    """The finished dataset job of ``kind`` named by the ``dataset`` field (None after an error)."""
    job_id = r.text("dataset")
    if not job_id:
        r.error("dataset", f"required: the id of a finished {what}")
        return None
    job = store.db.get(job_id)
    if job is None or job.kind != kind:
        r.error("dataset", f"{job_id} is not an {what}" if what[0] in "aeiou" else f"{job_id} is not a {what}")
        return None
    if job.status != Status.DONE.value:
        r.error("dataset", f"dataset {job.name} is {job.status}; only finished datasets can be used")
        return None
    return job


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
    count = r.number("select_gpu_count")
    return Request(gpu_count=count or 1)
