"""The segmentation forms: DIGITS's dataset fields (feature and label folders, validation
folders or a percentage, channel conversion, class labels file, colour-map method) and the
model form (the engine's TRAINING plus network and label-moving augmentation). Torch-free."""
from __future__ import annotations

from typing import Any

from werkzeug.datastructures import FileStorage

from ..archives import archive_suffix
from ..datasets.forms import DatasetForm
from ..errors import ValidationError
from ..fields import Field, FieldReader, Form
from ..models import cluster_fields
from ..models.forms import generic_form, generic_model
from . import DATASET, MODEL

DATASET_FORM = Form("New segmentation dataset", {
    **cluster_fields.DATASET_FIELDS,
    "dataset_name": Field("name", required=True),
    "group_name": Field("name"),
    "feature_folder": Field("text", help="the images (a folder on the server, or inside the archive)"),
    "label_folder": Field("text", help="the labels: the image's base name, any extension"),
    "folder_pct_val": Field("float", 10, 0, 90, help="percent split off for validation (seeded)"),
    "has_val_folder": Field("flag", ""),
    "validation_feature_folder": Field("text"),
    "validation_label_folder": Field("text"),
    "channel_conversion": Field("choice", "none", options=("none", "RGB", "L"), help="features only"),
    "class_labels_file": Field("text", help="line i names class i"),
    "colormap_method": Field("choice", "label", options=("label", "textfile", "cvat", "coco"),
                             help="label: palette or grayscale label images (VOC); textfile: RGB labels "
                                  "quantised to colormap_text_file; cvat: CVAT's Segmentation Mask 1.1 "
                                  "(label_folder = SegmentationClass, labelmap.txt beside it); coco: "
                                  "label_folder is a COCO JSON file of polygons or RLE"),
    "colormap_text_file": Field("text", help="'R G B' per line, class i on line i"),
    "resize_image_width": Field("int", None, 1, 8192, blank=True, help="images bilinear, labels nearest"),
    "resize_image_height": Field("int", None, 1, 8192, blank=True),
    "dsopts_feature_encoding": Field("choice", "png", options=("png", "jpg", "none")),
    "train_archive": Field("file", help="a .zip/.tar.gz/.tar holding the folders named above"),
})
DATASET_DEFAULTS: dict[str, Any] = DATASET_FORM.defaults()


def check_labels(r: FieldReader, spec: dict[str, Any]) -> None:
    """Read now what is cheap to read and fatal when wrong, so the form answers naming it: the
    colour map's lines, CVAT's labelmap.txt, a COCO file (JSON, its images and categories).
    The images themselves are read by the job, which lists every bad one."""
    from ..files import InputError
    from .labels import coco_pairs, cvat_labelmap, read_colormap

    checks = []
    if spec.get("colormap_file"):
        checks.append(("colormap_text_file", lambda: read_colormap(spec["colormap_file"])))
    if spec["colormap_method"] == "cvat":
        checks.append(("label_folder", lambda: cvat_labelmap(spec["train"]["labels"])))
    if spec["colormap_method"] == "coco":
        for split, what in (("train", ""), ("val", "validation_")):
            if spec.get(split):
                part = spec[split]
                checks.append((f"{what}label_folder", lambda part=part, what=what:
                               coco_pairs(part["features"], part["labels"], what, [])))
    for field, check in checks:
        try:
            check()
        except InputError as err:
            named = str(err).split(":", 1)[0]
            r.error(named if named in DATASET_FORM.fields else field, str(err))


def parse_dataset(values: dict[str, Any], files: dict[str, FileStorage], config: dict) -> DatasetForm:
    r = DATASET_FORM.reader(values)
    roots = list(config["DATA_ROOTS"])
    name = r.name("dataset_name")
    group = r.name("group_name", required=False)
    upload = files.get("train_archive")
    archive = upload is not None and bool(upload.filename)
    uploads: dict[str, FileStorage | bytes] = {}
    spec: dict[str, Any] = {"task": "segmentation", "data_roots": roots,
                            "seed": int(config.get("DATASET_SEED", 0)), "workers": config.get("DATASET_WORKERS"),
                            "max_extract_bytes": int(config["MAX_CONTENT_LENGTH"]) * 4}
    if archive:
        suffix = archive_suffix(upload.filename)
        if suffix is None:
            r.error("train_archive", f"{upload.filename}: expected a .zip, .tar.gz, .tgz or .tar archive")
        else:
            spec["archive"] = f"uploads/train_archive{suffix}"
            uploads[spec["archive"]] = upload

    def path(field: str, folder: bool = True) -> str | None:
        value = r.text(field)
        if archive:
            if not value or value.startswith("/") or ".." in value.split("/"):
                r.error(field, "with an archive: a relative path inside it" if value else "required")
                return None
            return value
        return r.path(field, roots, folder=folder)

    coco = r.text("colormap_method") == "coco"  # then the labels are one JSON file
    spec["train"] = {"features": path("feature_folder"), "labels": path("label_folder", folder=not coco)}
    spec["val"] = {"features": path("validation_feature_folder"),
                   "labels": path("validation_label_folder", folder=not coco)} if r.flag("has_val_folder") else None
    spec["pct_val"] = r.number("folder_pct_val")
    spec["channel_conversion"] = r.choice("channel_conversion")
    spec["colormap_method"] = r.choice("colormap_method")
    if spec["colormap_method"] == "textfile":
        spec["colormap_file"] = path("colormap_text_file", folder=False)
    spec["class_labels_file"] = path("class_labels_file", folder=False) if r.text("class_labels_file") else None
    size = (r.number("resize_image_width"), r.number("resize_image_height"))
    if (size[0] is None) != (size[1] is None):
        r.error("resize_image_width", "give both width and height, or neither")
    spec["resize"] = list(size) if None not in size else None
    spec["encoding"] = r.choice("dsopts_feature_encoding")
    if not archive and not r.errors:
        check_labels(r, spec)
    if r.errors:
        raise ValidationError(r.errors)
    spec["form"] = {k: str(v) for k, v in values.items() if k != "username"}
    return DatasetForm(name, group, spec, uploads)


MODEL_FORM = generic_form(
    "New segmentation model", "segmentation", "lraspp_mobilenet_v3_large", "segmentation",
    "build(num_classes, in_channels)", "labels flip too",
    "scale jitter: a random crop, labels nearest", "brightness jitter (images only)")
MODEL_DEFAULTS: dict[str, Any] = {**MODEL_FORM.defaults(), "solver_type": "ADAM", "learning_rate": "0.001",
                                  "lr_policy": "fixed", "batch_size": "8", "train_epochs": "30"}


def parse_model(values: dict[str, Any], store, config: dict):
    """Validate the model form: (jobs, dataset job, group, resource request)."""
    return generic_model(MODEL_FORM, MODEL_DEFAULTS, values, store, config, DATASET, MODEL,
                         "segmentation", "build(num_classes, in_channels)", "segmentation")
