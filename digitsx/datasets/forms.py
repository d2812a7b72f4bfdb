"""The image classification dataset form: DIGITS's field names and defaults → a clean spec.

Everything a user can get wrong is checked here, before a job exists, and answered as
``{"errors": {field: [message]}}``: paths outside the data roots, missing folders, bad
numbers, malformed list lines, labels out of range.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import FileStorage

from ..errors import ValidationError
from ..http import name_problem
from . import discover
from .archives import archive_suffix
from .discover import DatasetInputError
from .resize import MODES

TRUE = {"1", "y", "yes", "true", "on", "checked"}
FALSE = {"", "0", "n", "no", "false", "off", "none"}
ENCODINGS = ("png", "jpg", "none")
DEFAULTS: dict[str, Any] = {
    "resize_channels": "3", "resize_width": "256", "resize_height": "256",
    "resize_mode": "squash", "encoding": "png", "backend": "lmdb", "method": "folder",
    "folder_pct_val": "25", "folder_pct_test": "0", "folder_train_min_per_class": "2",
    "folder_val_min_per_class": "2", "folder_test_min_per_class": "2",
    "textfile_use_val": "y", "textfile_use_test": "", "textfile_shuffle": "y",
}


@dataclass
class DatasetForm:
    """What a valid form gives: the job's name and group, its spec, and files to save."""

    name: str
    group: str
    spec: dict
    uploads: dict[str, FileStorage | bytes] = field(default_factory=dict)


class FieldReader:
    """Typed access to form fields that collects every error instead of stopping at one."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values, self.errors = values, {}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, name: str) -> str:
        value = self.values.get(name, DEFAULTS.get(name, ""))
        return "" if value is None else str(value).strip()

    def name(self, field: str, required: bool = True, limit: int = 256) -> str:
        """A job or group name: required (or not), at most ``limit`` characters, no control
        characters (a NUL or a newline in a name breaks logs, files and pages)."""
        value = self.text(field)
        problem = name_problem(value, required, limit)
        if problem:
            self.error(field, problem)
        return value

    def flag(self, name: str) -> bool:
        value = self.text(name).lower()
        if value not in TRUE | FALSE:
            self.error(name, f"expected yes or no, got {value!r}")
        return value in TRUE

    def number(self, name: str, low: float, high: float, kind=int, optional=False):
        text = self.text(name)
        if text == "" and optional:
            return None
        try:
            value = kind(text)
        except ValueError:
            self.error(name, f"expected a{'n integer' if kind is int else ' number'}, got {text!r}")
            return None
        if not low <= value <= high:
            self.error(name, f"must be between {low:g} and {high:g}, got {value:g}")
            return None
        return value

    def choice(self, name: str, options: tuple) -> str:
        value = self.text(name)
        if value not in options:
            self.error(name, f"must be one of {', '.join(map(str, options))}, got {value!r}")
        return value

    def path(self, name: str, roots: list[str], folder: bool = True) -> str | None:
        value = self.text(name)
        if not value:
            self.error(name, "required")
            return None
        value = os.path.abspath(os.path.expanduser(value))
        if not discover.within_roots(value, roots):
            self.error(name, f"{value} is outside the allowed data roots ({', '.join(roots)})")
        elif folder and not os.path.isdir(value):
            self.error(name, f"{value} does not exist or is not a folder")
        elif not folder and not os.path.isfile(value):
            self.error(name, f"{value} does not exist or is not a file")
        return value


def parse(values: dict[str, Any], files: dict[str, FileStorage], config: dict) -> DatasetForm:
    """Validate the form; ValidationError lists every problem by field."""
    r = FieldReader(values)
    roots = list(config["DATA_ROOTS"])
    name = r.name("dataset_name")
    group = r.name("group_name", required=False)
    image = {"channels": int(r.choice("resize_channels", ("1", "3")) or 3),
             "width": r.number("resize_width", 1, 4096), "height": r.number("resize_height", 1, 4096),
             "resize_mode": r.choice("resize_mode", MODES), "encoding": r.choice("encoding", ENCODINGS)}
    if r.text("backend") != "lmdb":
        r.error("backend", f"only lmdb is supported, got {r.text('backend')!r}")
    method = r.choice("method", ("folder", "textfile"))
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
    out["pct_val"] = r.number("folder_pct_val", 0, 100, float)
    out["pct_test"] = r.number("folder_pct_test", 0, 100, float)
    if out["pct_val"] is not None and out["pct_test"] is not None \
            and out["pct_val"] + out["pct_test"] >= 100:
        r.error("folder_pct_val", "validation and test percentages must leave images to train on")
    out["train_min"] = r.number("folder_train_min_per_class", 1, 10**9)
    out["train_max"] = r.number("folder_train_max_per_class", 1, 10**9, optional=True)
    if out["train_max"] and out["train_min"] and out["train_max"] < out["train_min"]:
        r.error("folder_train_max_per_class", "must not be below the minimum per class")
    for split in ("val", "test"):
        if r.flag(f"has_{split}_folder"):
            out[split] = r.path(f"folder_{split}", roots)
            out[f"pct_{split}"] = 0.0
            out[f"{split}_min"] = r.number(f"folder_{split}_min_per_class", 1, 10**9)
            out[f"{split}_max"] = r.number(f"folder_{split}_max_per_class", 1, 10**9, optional=True)
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
            if not discover.within_roots(prefix, roots):
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
