"""The object-detection forms: DIGITS's dataset fields (KITTI folders, padding, resize,
channel conversion, minimum validation box size, custom classes) plus COCO, VOC and YOLO
labels and archives; the model form is the engine's :data:`~digitsx.models.forms.TRAINING`
plus the network and box-moving augmentations. Torch-free."""
from __future__ import annotations

import os
from typing import Any

from werkzeug.datastructures import FileStorage

from ..archives import archive_suffix
from ..datasets.forms import DatasetForm
from ..errors import ValidationError
from ..fields import Field, FieldReader, Form
from ..datasets.labelfiles import class_names
from ..files import InputError
from ..models import cluster_fields
from ..models.forms import ModelJob, generic_form, generic_model
from . import DATASET
from .labels import FORMATS, parse

PATH = "a folder on the server, inside the data roots (with an archive: a folder inside it)"
DATASET_FORM = Form("New object detection dataset", {
    **cluster_fields.DATASET_FIELDS,
    "dataset_name": Field("name", required=True),
    "group_name": Field("name"),
    "label_format": Field("choice", "kitti", options=FORMATS,
                          help="kitti: ID.txt per image; coco: one JSON file; voc: ID.xml per "
                               "image; yolo: ID.txt (class cx cy w h) and data.yaml"),
    "train_image_folder": Field("text", help=PATH),
    "train_label_folder": Field("text", help="KITTI, VOC or YOLO labels: " + PATH),
    "train_label_file": Field("text", help="COCO: the JSON file (on the server, or in the archive)"),
    "val_image_folder": Field("text", help="validation images (with val labels, or neither)"),
    "val_label_folder": Field("text", help="validation labels (KITTI, VOC, YOLO)"),
    "val_label_file": Field("text", help="COCO: the validation JSON file"),
    "train_archive": Field("file", help="a .zip/.tar.gz/.tar holding the folders named above"),
    "folder_pct_val": Field("float", 10, 0, 90, help="without validation folders: percent split off"),
    "padding_image_width": Field("int", None, 1, 8192, blank=True,
                                 help="blank (the default): no padding, images keep their sizes; "
                                      "KITTI's is 1248 (× 384): images pasted top-left on black"),
    "padding_image_height": Field("int", None, 1, 8192, blank=True, help="KITTI's is 384"),
    "resize_image_width": Field("int", None, 1, 8192, blank=True, help="after padding; boxes scaled"),
    "resize_image_height": Field("int", None, 1, 8192, blank=True),
    "channel_conversion": Field("choice", "RGB", options=("RGB", "L", "none")),
    "val_min_box_size": Field("int", 25, 0, 10000,
                              help="validation boxes smaller than this (px) become don't care"),
    "custom_classes": Field("text", help="comma list; id = position (dontcare first); unknown → 0"),
    "dsopts_feature_encoding": Field("choice", "png", options=("png", "jpg", "none")),
    "dsopts_force_same_shape": Field("flag", "", help="without padding: every image the same size"),
})
DATASET_DEFAULTS: dict[str, Any] = DATASET_FORM.defaults()


def _path(r: FieldReader, name: str, roots: list[str], archive: bool, folder: bool = True) -> str | None:
    value = r.text(name)
    if archive:  # checked inside the archive by the worker
        if not value or os.path.isabs(value) or ".." in value.replace("\\", "/").split("/"):
            r.error(name, "with an archive: a relative path inside it" if value else "required")
            return None
        return value
    return r.path(name, roots, folder=folder)


def parse_dataset(values: dict[str, Any], files: dict[str, FileStorage], config: dict) -> DatasetForm:
    """Validate the dataset form (reading the labels now, so a missing folder or a COCO file that
    does not parse is a 400 naming it); ValidationError lists every problem by field."""
    r = DATASET_FORM.reader(values)
    roots = list(config["DATA_ROOTS"])
    name = r.name("dataset_name")
    group = r.name("group_name", required=False)
    fmt = r.choice("label_format")
    upload = files.get("train_archive")
    archive = upload is not None and bool(upload.filename)
    uploads: dict[str, FileStorage | bytes] = {}
    spec: dict[str, Any] = {"task": "detection", "label_format": fmt, "data_roots": roots,
                            "seed": int(config.get("DATASET_SEED", 0)),
                            "workers": config.get("DATASET_WORKERS"),
                            "max_extract_bytes": int(config["MAX_CONTENT_LENGTH"]) * 4}
    if archive:
        suffix = archive_suffix(upload.filename)
        if suffix is None:
            r.error("train_archive", f"{upload.filename}: expected a .zip, .tar.gz, .tgz or .tar archive")
        else:
            spec["archive"] = f"uploads/train_archive{suffix}"
            uploads[spec["archive"]] = upload
    label_field = "label_file" if fmt == "coco" else "label_folder"
    for split in ("train", "val"):
        images, labels = r.text(f"{split}_image_folder"), r.text(f"{split}_{label_field}")
        if split == "val" and not images and not labels:
            spec["val"] = None
            continue
        if split == "val" and bool(images) != bool(labels):
            r.error("val_image_folder", f"give both val_image_folder and val_{label_field}, or neither")
            continue
        spec[split] = {"images": _path(r, f"{split}_image_folder", roots, archive),
                       "labels": _path(r, f"{split}_{label_field}", roots, archive,
                                       folder=fmt != "coco")}
    spec["pct_val"] = r.number("folder_pct_val")
    pad = (r.number("padding_image_width"), r.number("padding_image_height"))
    size = (r.number("resize_image_width"), r.number("resize_image_height"))
    for key, pair, field in (("padding", pad, "padding_image_width"), ("resize", size, "resize_image_width")):
        if (pair[0] is None) != (pair[1] is None):
            r.error(field, "give both width and height, or neither")
        spec[key] = list(pair) if None not in pair else None
    spec["channel_conversion"] = r.choice("channel_conversion")
    spec["val_min_box_size"] = r.number("val_min_box_size")
    spec["custom_classes"] = _custom_classes(r)
    spec["encoding"] = r.choice("dsopts_feature_encoding")
    spec["force_same_shape"] = r.flag("dsopts_force_same_shape")
    if not archive and fmt and not r.errors:
        for split in ("train", "val"):
            if spec.get(split):
                try:  # a missing folder or an unparsable COCO file answers now, naming it
                    parse(fmt, spec[split]["images"], spec[split]["labels"], split)
                except InputError as err:
                    field = str(err).split(":", 1)[0]
                    r.error(field if field in DATASET_FORM.fields else f"{split}_image_folder", str(err))
    if r.errors:
        raise ValidationError(r.errors)
    spec["form"] = {k: str(v) for k, v in values.items() if k != "username"}
    return DatasetForm(name, group, spec, uploads)


def _custom_classes(r: FieldReader) -> list[str]:
    """``custom_classes``: a comma list of names, capped in number and length like every label
    file's (:func:`~digitsx.datasets.labelfiles.class_names`)."""
    names = [c.strip() for c in r.text("custom_classes").split(",") if c.strip()]
    try:
        return class_names(names, "the list", "custom_classes")
    except InputError as err:
        r.error("custom_classes", str(err))
        return names


MODEL_FORM = generic_form(
    "New object detection model", "detection", "ssdlite320_mobilenet_v3_large", "object detection",
    "build(num_classes, image_size) returning a torchvision-style detector", "boxes flip too",
    "scale jitter: a random crop of up to this fraction, boxes cropped with it",
    "brightness and contrast jitter")
MODEL_DEFAULTS: dict[str, Any] = {**MODEL_FORM.defaults(), "solver_type": "ADAM",
                                  "learning_rate": "0.001", "lr_policy": "fixed", "batch_size": "16",
                                  "train_epochs": "30"}


def parse_model(values: dict[str, Any], store, config: dict):
    """Validate the model form: (jobs, dataset job, group, resource request)."""
    from . import MODEL

    return generic_model(MODEL_FORM, MODEL_DEFAULTS, values, store, config, DATASET, MODEL,
                         "object detection", "build(num_classes, image_size)", "detection")


__all__ = ["DATASET_FORM", "MODEL_FORM", "ModelJob", "parse_dataset", "parse_model"]
