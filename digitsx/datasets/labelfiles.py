"""Reading label files that users hand us, safely, for every task: JSON that may be nested to
blow the stack, YAML whose aliases multiply a few bytes into gigabytes, COCO documents whose
ids, sizes and names are the wrong type, and class lists too long or too large to keep.

Everything here is pure Python (the web process checks forms with it, dataset workers build
with it) and answers a problem as an :class:`~digitsx.files.InputError` naming the file and
what is wrong; a bad entry inside a file that is otherwise usable is left to the caller to skip
and list in the health report.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..files import InputError

MAX_LABEL_BYTES = 64 * 2**20  # one label file; a bigger one is refused, not read
MAX_CLASSES = 10000  # class names in one dataset (a segmentation map holds at most 255)
MAX_CLASS_NAME = 200  # characters in one class name
MAX_YAML_DEPTH = 32


def read_text(path: str, what: str, limit: int = MAX_LABEL_BYTES) -> str:
    """A label file's text (UTF-8, bad bytes replaced); InputError when missing or too big."""
    try:
        if os.path.getsize(path) > limit:
            raise InputError(f"{what}: {os.path.basename(path)} is larger than {limit >> 20} MiB")
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as err:
        raise InputError(f"{what}: cannot read {path} ({err.strerror})") from None


def load_json(text: str, source: str, what: str) -> Any:
    """JSON, refusing documents nested past the parser's stack (named, not a crash)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{what}: {source} is not valid JSON (line {err.lineno}, column "
                         f"{err.colno}: {err.msg})") from None
    except RecursionError:
        raise InputError(f"{what}: {source} is nested too deeply to be a label file") from None


def load_yaml(text: str, source: str, what: str) -> Any:
    """YAML without aliases (``*a`` repeats a node: a few hundred bytes become gigabytes) and
    nested at most :data:`MAX_YAML_DEPTH` deep; anchors alone are harmless."""
    import yaml

    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise InputError(f"{what}: {source} uses a YAML alias (*{event.anchor}); label "
                                 f"files may not repeat nodes by alias")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise InputError(f"{what}: {source} is nested more than {MAX_YAML_DEPTH} deep")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"{what}: {source} is not valid YAML ({err})") from None
    except RecursionError:
        raise InputError(f"{what}: {source} is nested too deeply") from None


def class_names(names: Any, source: str, what: str, limit: int = MAX_CLASSES) -> list[str]:
    """A list of class names, each a short single-line scalar, at most ``limit`` of them."""
    if not isinstance(names, list):
        raise InputError(f"{what}: {source}: the class names must be a list")
    if len(names) > limit:
        raise InputError(f"{what}: {source} names {len(names)} classes; at most {limit}")
    out = []
    for i, name in enumerate(names):
        if isinstance(name, bool) or not isinstance(name, (str, int, float)):
            raise InputError(f"{what}: {source}: class {i} is a {type(name).__name__}, not a name")
        text = str(name).strip()
        if len(text) > MAX_CLASS_NAME:
            raise InputError(f"{what}: {source}: class {i} is {len(text)} characters long; at most "
                             f"{MAX_CLASS_NAME}")
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise InputError(f"{what}: {source}: class {i} ({text[:40]!r}) holds a control character")
        out.append(text)
    return out


def index_names(names: Any, source: str, what: str) -> list[str]:
    """YOLO's ``names:`` as a list, or as a map of class index → name (indexes 0..n-1)."""
    if isinstance(names, dict):
        if len(names) > MAX_CLASSES:
            raise InputError(f"{what}: {source} names {len(names)} classes; at most {MAX_CLASSES}")
        keys = list(names)
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in keys) \
                or sorted(keys) != list(range(len(keys))):
            shown = ", ".join(repr(k) for k in keys[:6])
            raise InputError(f"{what}: {source}: the keys of \"names\" must be the class indexes "
                             f"0, 1, 2… (got {shown})")
        names = [names[k] for k in range(len(keys))]
    return class_names(names, source, what)


def scalar_id(value: Any) -> bool:
    """A COCO id: an integer or a string (never a list, an object, a bool or a float)."""
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Coco:
    """A COCO document's checked parts: categories ``[(id, name)]`` by id, images as dicts with
    a scalar ``id``, a ``file_name`` and (when given) integer ``height`` and ``width``, the
    annotations as given (dicts), and the entries skipped with why."""

    categories: list[tuple[Any, str]]
    images: list[dict]
    annotations: list[dict]
    issues: list[dict] = field(default_factory=list)


def read_coco(path: str, what: str, need_annotations: bool = True, max_classes: int = MAX_CLASSES) -> Coco:
    """Read and check a COCO file: InputError when it cannot be used (not JSON, not COCO,
    categories with ids that are not all integers or all strings, duplicates, too many); images
    and annotations of the wrong shape are skipped and listed."""
    source = os.path.basename(path)
    data = load_json(read_text(path, what), source, what)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or \
            not isinstance(data.get("annotations", [] if not need_annotations else None), list):
        lists = "\"images\" and \"annotations\" lists" if need_annotations else "an \"images\" list"
        raise InputError(f"{what}: {source} is not a COCO file (it needs {lists})")
    raw = data.get("categories") or []
    if not isinstance(raw, list):
        raise InputError(f"{what}: {source}: \"categories\" must be a list")
    cats = [c for c in raw if isinstance(c, dict) and "id" in c]
    bad = [c["id"] for c in cats if not scalar_id(c["id"])]
    if bad:
        raise InputError(f"{what}: {source}: category ids must be integers (got {_shown(bad[0])})")
    if len({type(c["id"]) for c in cats}) > 1:
        raise InputError(f"{what}: {source}: category ids mix integers and strings")
    ids = [c["id"] for c in cats]
    if len(set(ids)) != len(ids):
        raise InputError(f"{what}: {source}: category ids repeat")
    cats.sort(key=lambda c: c["id"])
    names = class_names([c.get("name", c["id"]) for c in cats], source, what, max_classes)
    annotations = data.get("annotations")
    coco = Coco([(c["id"], name) for c, name in zip(cats, names)], [],
                annotations if isinstance(annotations, list) else [])
    for n, image in enumerate(data["images"]):
        where = f"{source}: images[{n}]"
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            coco.issues.append({"kind": "bad line", "where": where,
                                "message": f"{where}: needs \"id\" and \"file_name\""})
            continue
        if not scalar_id(image["id"]):
            raise InputError(f"{what}: {where}: \"id\" must be an integer (got {_shown(image['id'])})")
        for key in ("height", "width"):
            value = image.get(key)
            if value is not None and (not finite(value) or value != int(value) or not 0 < value <= 2**20):
                raise InputError(f"{what}: {where}: \"{key}\" must be a positive integer "
                                 f"(got {_shown(value)})")
        coco.images.append(image)
    return coco


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["MAX_CLASSES", "MAX_CLASS_NAME", "Coco", "class_names", "finite", "index_names",
           "load_json", "load_yaml", "read_coco", "read_text", "scalar_id"]
