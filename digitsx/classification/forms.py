"""Image classification's forms: the dataset form (DIGITS's folder and text-list fields → a
clean spec) and the model form (the engine's :data:`~digitsx.models.forms.TRAINING` fields, the
network: standard, continued, pretrained or custom, and augmentation).

Everything a user can get wrong is checked here, before a job exists, and answered as
``{"errors": {field: [message]}}``: paths outside the data roots, missing folders, bad
numbers, malformed list lines, labels out of range. Nothing here imports torch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage

from ..archives import archive_suffix
from ..datasets.folder import SPLITS
from ..datasets.forms import DatasetForm
from ..datasets.resize import MODES
from ..engine import checkpoint
from ..engine.spec import DatasetSpec
from ..errors import ValidationError
from ..fields import Field, FieldReader, Form
from ..files import within_roots
from ..jobs.resources import Request
from ..jobs.status import Status
from ..models import cluster_fields, published, registry
from ..models.forms import TRAINING, ModelJob, dataset_job, training_jobs, without_weights
from . import DATASET, MODEL, PRETRAINED, discover
from .discover import DatasetInputError

ENCODINGS = ("png", "jpg", "none")
PATH_HELP = "a folder on the server, inside the data roots"


def _split_fields() -> dict[str, Field]:
    out: dict[str, Field] = {}
    for split in ("val", "test"):
        out[f"has_{split}_folder"] = Field("flag", help=f"a separate {split} folder")
        out[f"folder_{split}"] = Field("path", help=f"the {split} images folder ({PATH_HELP})")
        out[f"folder_{split}_min_per_class"] = Field("int", 2, 1, 10**9)
        out[f"folder_{split}_max_per_class"] = Field("int", None, 1, 10**9, blank=True)
    for split in SPLITS:
        out[f"textfile_{split}_images"] = Field("file", help=f"the {split} list: path label lines")
        out[f"textfile_local_{split}_images"] = Field("path", help=f"the {split} list on the server")
        out[f"textfile_{split}_folder"] = Field("text", help=f"folder the {split} list's relative "
                                                             f"paths start from")
    return out


DATASET_FORM = Form("New image classification dataset", {
    **cluster_fields.DATASET_FIELDS,
    "dataset_name": Field("name", required=True),
    "group_name": Field("name"),
    "resize_channels": Field("choice", "3", options=("1", "3"), help="1 grayscale, 3 color"),
    "resize_width": Field("int", 256, 1, 4096),
    "resize_height": Field("int", 256, 1, 4096),
    "resize_mode": Field("choice", "squash", options=MODES),
    "encoding": Field("choice", "png", options=ENCODINGS, help="how the LMDB stores images"),
    "backend": Field("choice", "lmdb", options=("lmdb",)),
    "method": Field("choice", "folder", options=("folder", "textfile")),
    "folder_train": Field("path", help=f"one sub-folder per class ({PATH_HELP})"),
    "folder_train_archive": Field("file", help="or a .zip/.tar.gz/.tar of class folders"),
    "folder_pct_val": Field("float", 25, 0, 100),
    "folder_pct_test": Field("float", 0, 0, 100),
    "folder_train_min_per_class": Field("int", 2, 1, 10**9),
    "folder_train_max_per_class": Field("int", None, 1, 10**9, blank=True),
    "textfile_use_local_files": Field("flag", help="the lists are files on the server"),
    "textfile_labels_file": Field("file", help="one class name per line"),
    "textfile_local_labels_file": Field("path", help="the labels file on the server"),
    "textfile_use_val": Field("flag", "y"),
    "textfile_use_test": Field("flag", ""),
    "textfile_shuffle": Field("flag", "y"),
    **_split_fields(),
})
DATASET_DEFAULTS: dict[str, Any] = DATASET_FORM.defaults()


def parse_dataset(values: dict[str, Any], files: dict[str, FileStorage], config: dict) -> DatasetForm:
    """Validate the form; ValidationError lists every problem by field."""
    r = DATASET_FORM.reader(values)
    roots = list(config["DATA_ROOTS"])
    name = r.name("dataset_name")
    group = r.name("group_name", required=False)
    image = {"channels": r.choice("resize_channels", kind=int),
             "width": r.number("resize_width"), "height": r.number("resize_height"),
             "resize_mode": r.choice("resize_mode"), "encoding": r.choice("encoding")}
    if r.text("backend") != "lmdb":
        r.error("backend", f"only lmdb is supported, got {r.text('backend')!r}")
    method = r.choice("method")
    spec: dict[str, Any] = {"method": method, "image": image, "backend": "lmdb",
                            "data_roots": roots, "seed": int(config.get("DATASET_SEED", 0)),
                            "workers": config.get("DATASET_WORKERS"),
                            "parallel": config.get("DATASET_PARALLEL", "processes"),
                            "max_extract_bytes": int(config["MAX_CONTENT_LENGTH"]) * 4}
    uploads: dict[str, FileStorage | bytes] = {}
    if method == "folder":
        spec["folder"] = _folder(r, files, roots, uploads)
    elif method == "textfile":
        spec["textfile"] = _textfile(r, files, roots, uploads)
    if r.errors:
        raise ValidationError(r.errors)
    spec["form"] = {k: str(v) for k, v in values.items() if k != "username"}
    return DatasetForm(name, group, spec, uploads)


def _folder(r: FieldReader, files: dict, roots: list[str], uploads: dict) -> dict:
    archive = files.get("folder_train_archive")
    out: dict[str, Any] = {"train": None, "archive": None}
    if archive is not None and archive.filename:
        suffix = archive_suffix(archive.filename)
        if suffix is None:
            r.error("folder_train_archive", f"{archive.filename}: expected a .zip, .tar.gz, "
                                            f".tgz or .tar archive")
        else:
            out["archive"] = f"uploads/train_archive{suffix}"
            uploads[out["archive"]] = archive
    else:
        out["train"] = r.path("folder_train", roots)
    out["pct_val"] = r.number("folder_pct_val")
    out["pct_test"] = r.number("folder_pct_test")
    if out["pct_val"] is not None and out["pct_test"] is not None \
            and out["pct_val"] + out["pct_test"] >= 100:
        r.error("folder_pct_val", "validation and test percentages must leave images to train on")
    out["train_min"] = r.number("folder_train_min_per_class")
    out["train_max"] = r.number("folder_train_max_per_class")
    if out["train"] and "folder_train" not in r.errors:  # checked now, not by a job that fails
        problem = discover.precheck_folder(out["train"], out["train_min"] or 1)
        if problem:
            r.error("folder_train", problem)
    if out["train_max"] and out["train_min"] and out["train_max"] < out["train_min"]:
        r.error("folder_train_max_per_class", "must not be below the minimum per class")
    for split in ("val", "test"):
        if r.flag(f"has_{split}_folder"):
            out[split] = r.path(f"folder_{split}", roots)
            out[f"pct_{split}"] = 0.0
            out[f"{split}_min"] = r.number(f"folder_{split}_min_per_class")
            out[f"{split}_max"] = r.number(f"folder_{split}_max_per_class")
    return out


def _textfile(r: FieldReader, files: dict, roots: list[str], uploads: dict) -> dict:
    local = r.flag("textfile_use_local_files")
    out: dict[str, Any] = {"shuffle": r.flag("textfile_shuffle")}
    wanted = {"train": True, "val": r.flag("textfile_use_val"), "test": r.flag("textfile_use_test")}
    texts: dict[str, str] = {}
    for part, field_up, field_local in [("labels", "textfile_labels_file", "textfile_local_labels_file")] + [
            (s, f"textfile_{s}_images", f"textfile_local_{s}_images") for s in ("train", "val", "test")]:
        if not wanted.get(part, True):
            continue
        if local:
            path = r.path(field_local, roots, folder=False)
            if path and field_local not in r.errors:
                out[part] = path
                texts[part] = open(path, encoding="utf-8", errors="replace").read()
        else:
            upload = files.get(field_up)
            if upload is None or not upload.filename:
                if part in ("labels", "train"):
                    r.error(field_up, "required (upload a file)")
                continue
            data = upload.read()
            out[part] = f"uploads/{part}.txt"
            uploads[out[part]] = data
            texts[part] = data.decode("utf-8", errors="replace")
    for split in ("train", "val", "test"):
        prefix = r.text(f"textfile_{split}_folder")
        if prefix:
            prefix = os.path.abspath(os.path.expanduser(prefix))
            if not within_roots(prefix, roots):
                r.error(f"textfile_{split}_folder", f"{prefix} is outside the allowed data roots")
        out[f"{split}_folder"] = prefix
    _check_lists(r, texts, out, roots, local)
    return out


def _check_lists(r: FieldReader, texts: dict, out: dict, roots: list[str], local: bool) -> None:
    """Parse the lists now, so a bad line is a 400 naming the file and line, not a failed job."""
    if "labels" not in texts:
        return
    field = "textfile_local_labels_file" if local else "textfile_labels_file"
    try:
        labels = discover.parse_labels(texts["labels"], "labels file")
    except DatasetInputError as err:
        r.error(field, str(err))
        return
    for split in ("train", "val", "test"):
        if split in texts:
            field = f"textfile_local_{split}_images" if local else f"textfile_{split}_images"
            try:
                discover.parse_list(texts[split], f"{split} list", out.get(f"{split}_folder", ""),
                                    roots, len(labels))
            except DatasetInputError as err:
                r.error(field, str(err))


# --- the model form ---------------------------------------------------------------------
AUG = {"use_mean": ("none", "image", "pixel"), "aug_flip": ("none", "fliplr", "flipud", "fliplrud"),
       "aug_quad_rot": ("none", "rot90", "rot180", "rotall")}
MODEL_FORM = TRAINING | Form("New image classification model", {
    "method": Field("choice", "standard", options=("standard", "previous", "pretrained", "custom")),
    "standard_networks": Field("choice", "lenet", options=registry.names("classification")),
    "previous_networks": Field("id", help="a model job to start from"),
    "previous_snapshot": Field("text", help="its epoch (blank: the last)"),
    "custom_network": Field("text", help="Python defining build(num_classes, in_channels, "
                                         "image_size); needs can_run_code"),
    "pretrained_networks": Field("id", help="a pretrained model job"),
    "pretrained_freeze": Field("flag", ""),
    "pretrained_lr_mult": Field("float", 1, 0, 10),
    "crop_size": Field("int", None, 1, 4096, blank=True),
    **{k: Field("choice", "image" if k == "use_mean" else "none", options=v) for k, v in AUG.items()},
    "aug_rot": Field("float", 0, 0, 180), "aug_scale": Field("float", 0, 0, 1),
    "aug_noise": Field("float", 0, 0, 1), "aug_hsv_use": Field("flag", ""),
    "aug_hsv_h": Field("float", 0.02, 0, 0.5), "aug_hsv_s": Field("float", 0.04, 0, 0.5),
    "aug_hsv_v": Field("float", 0.06, 0, 0.5),
})
MODEL_DEFAULTS: dict[str, Any] = MODEL_FORM.defaults()


def parse_model(values: dict[str, Any], store, config: dict) -> tuple[list[ModelJob], Any, str, Request]:
    """Validate the form: (jobs, dataset job, group name, resource request)."""
    r = MODEL_FORM.reader(values)
    name = r.name("model_name")
    group = r.name("group_name")
    dataset = dataset_job(r, store, DATASET, "image classification dataset")
    network = published.read(r, "classification", _network(r, store), config)
    crop = r.number("crop_size")
    if crop and dataset is not None:
        image = DatasetSpec.from_dict(dataset.spec).image
        if crop > min(image.get("width", crop), image.get("height", crop)):
            r.error("crop_size", f"larger than the dataset's images "
                                 f"({image.get('width')}×{image.get('height')})")
    augment = {"use_mean": r.choice("use_mean"), "crop_size": crop, "flip": r.choice("aug_flip"),
               "quad_rot": r.choice("aug_quad_rot"), "rot": r.number("aug_rot"),
               "scale": r.number("aug_scale"), "noise": r.number("aug_noise"),
               "hsv_use": r.flag("aug_hsv_use"), "hsv_h": r.number("aug_hsv_h"),
               "hsv_s": r.number("aug_hsv_s"), "hsv_v": r.number("aug_hsv_v")}
    jobs, request = training_jobs(r, values, name, dataset, network, augment, store, config, MODEL)
    return jobs, dataset, group, request


def _network(r: FieldReader, store) -> dict:
    method = r.choice("method")
    if method == "custom":
        source = r.text("custom_network")
        if "def build" not in source:
            r.error("custom_network", "define build(num_classes, in_channels, image_size) "
                                      "returning a torch.nn.Module")
        return {"method": "custom", "source": source}
    if method == "previous":
        job_id = r.text("previous_networks")
        job = store.db.get(job_id) if job_id else None
        if job is None or job.kind != MODEL:
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
        earlier = {k: v for k, v in without_weights(job.spec.get("network")).items() if k != "previous"}
        return {"method": "standard", **earlier,  # its network as it was built: custom too
                "previous": {"job_id": job_id, "epoch": chosen, "file": str(path)}}
    if method == "pretrained":
        job_id = r.text("pretrained_networks")
        job = store.db.get(job_id) if job_id else None
        if job is None or job.kind != PRETRAINED or job.status != Status.DONE.value:
            r.error("pretrained_networks", f"{job_id or '(none)'} is not a ready pretrained model")
            return {"method": "pretrained"}
        return {"method": "pretrained", "job_id": job_id, "dir": str(store.job_dir(job_id)),
                "name": job.name, "freeze": r.flag("pretrained_freeze"),
                "lr_mult": r.number("pretrained_lr_mult")}
    return {"method": "standard", "name": r.choice("standard_networks")}


__all__ = ["DATASET_FORM", "DATASET_DEFAULTS", "MODEL_FORM", "MODEL_DEFAULTS", "ModelJob", "parse_dataset", "parse_model"]
