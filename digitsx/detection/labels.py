"""Reading object-detection labels: KITTI, COCO, Pascal VOC and YOLO → one shape.

Pure Python (no Pillow, no torch): the web process checks a form with it, the dataset worker
builds with it. Every problem names the file and line; a bad line or box is skipped and listed
(``Issue``), a missing folder or a COCO file that does not parse is an :class:`InputError`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets.labelfiles import (MAX_CLASS_NAME, MAX_CLASSES, class_names, finite, index_names,
                                   load_yaml, read_coco, read_text, scalar_id)
from ..files import InputError

FORMATS = ("kitti", "coco", "voc", "yolo")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")
# DIGITS's default KITTI map (id = position; "person" is another name for "pedestrian").
KITTI_CLASSES = ["dontcare", "car", "van", "truck", "bus", "pickup", "vehicle-with-trailer",
                 "special-vehicle", "pedestrian", "person-fa", "person?", "people", "cyclist",
                 "tram", "person_sitting"]
KITTI_ALIASES = {"person": 8}


@dataclass
class Box:
    name: str  # the class as written (lower-cased for KITTI)
    x1: float
    y1: float
    x2: float
    y2: float
    where: str  # "labels/0001.txt:3"
    normalised: bool = False  # YOLO: centre and size as fractions of the image (converted later)


@dataclass
class Item:
    image: str  # absolute path
    boxes: list[Box] = field(default_factory=list)
    label_file: str = ""


@dataclass
class Parsed:
    items: list[Item]
    names: list[str]  # class names the labels define, in their order (COCO, YOLO) or as seen
    issues: list[dict] = field(default_factory=list)  # {kind, where, message}

    def issue(self, kind: str, where: str, message: str) -> None:
        self.issues.append({"kind": kind, "where": where, "message": message})


def _images(folder: str, what: str) -> dict[str, str]:
    """``{base name: path}`` of the images directly in ``folder``."""
    if not os.path.isdir(folder):
        raise InputError(f"{what}: {folder} does not exist or is not a folder")
    try:
        names = sorted(os.listdir(folder))
    except OSError as err:
        raise InputError(f"{what}: cannot read {folder} ({err.strerror})") from None
    return {os.path.splitext(n)[0]: os.path.join(folder, n) for n in names
            if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS}


def _short(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:])


def _number(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _new_name(parsed: Parsed, seen: list[str], name: str, where: str, source: str) -> bool:
    """Record a class name met in a label (KITTI, VOC): False (listed) when it is too long or
    holds a control character; InputError past :data:`MAX_CLASSES` names."""
    if len(name) > MAX_CLASS_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        parsed.issue("bad line", where, f"{where}: a class name must be one line of at most "
                                        f"{MAX_CLASS_NAME} characters")
        return False
    if name not in seen:
        if len(seen) >= MAX_CLASSES:
            raise InputError(f"{source}: the labels name more than {MAX_CLASSES} classes")
        seen.append(name)
    return True


def _check_box(parsed: Parsed, box: Box) -> Box | None:
    if box.normalised:
        if box.x2 <= 0 or box.y2 <= 0:  # width, height
            parsed.issue("zero-area box", box.where, f"{box.where}: box of zero area")
            return None
        return box
    if box.x2 < box.x1 or box.y2 < box.y1:
        parsed.issue("bad box", box.where, f"{box.where}: right < left or bottom < top "
                                            f"({box.x1:g}, {box.y1:g}, {box.x2:g}, {box.y2:g})")
        return None
    if box.x2 == box.x1 or box.y2 == box.y1:
        parsed.issue("zero-area box", box.where, f"{box.where}: box of zero area")
        return None
    return box


def _pair_folder(images: dict[str, str], label_folder: str, suffix: str, what: str,
                 parsed: Parsed) -> list[tuple[str, str | None]]:
    """(image, its label file or None), listing label files without an image."""
    if not os.path.isdir(label_folder):
        raise InputError(f"{what}: {label_folder} does not exist or is not a folder")
    labels = {os.path.splitext(n)[0]: os.path.join(label_folder, n)
              for n in sorted(os.listdir(label_folder)) if n.lower().endswith(suffix)}
    for base, path in labels.items():
        if base not in images:
            parsed.issue("label without image", _short(path), f"{_short(path)}: no image {base}.*")
    pairs = []
    for base, image in images.items():
        if base not in labels:
            parsed.issue("image without labels", _short(image), f"{_short(image)}: no {base}{suffix}")
        pairs.append((image, labels.get(base)))
    return pairs


def parse_kitti(image_folder: str, label_folder: str, what: str = "train") -> Parsed:
    """``ID.txt`` per image: ``type truncated occluded alpha left top right bottom ...``
    (≥ 15 columns)."""
    parsed = Parsed([], [])
    seen: list[str] = []
    for image, label in _pair_folder(_images(image_folder, f"{what}_image_folder"), label_folder,
                                     ".txt", f"{what}_label_folder", parsed):
        item = Item(image, label_file=label or "")
        parsed.items.append(item)
        if label is None:
            continue
        for number, line in enumerate(read_text(label, f"{what}_label_folder").splitlines(), 1):
            where = f"{_short(label)}:{number}"
            cols = line.split()
            if not cols:
                continue
            if len(cols) < 15:
                parsed.issue("bad line", where, f"{where}: {len(cols)} columns, KITTI needs at least 15")
                continue
            try:
                x1, y1, x2, y2 = (_number(c) for c in cols[4:8])
            except ValueError:
                parsed.issue("bad line", where, f"{where}: left, top, right, bottom must be numbers "
                                                f"(got {' '.join(cols[4:8])!r})")
                continue
            name = cols[0].lower()
            if not _new_name(parsed, seen, name, where, f"{what}_label_folder"):
                continue
            box = _check_box(parsed, Box(name, x1, y1, x2, y2, where))
            if box is not None:
                item.boxes.append(box)
    parsed.names = seen
    return parsed


def parse_voc(image_folder: str, label_folder: str, what: str = "train") -> Parsed:
    """One Pascal VOC XML per image (``ID.xml``): ``object/name`` and ``bndbox``."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    parsed = Parsed([], [])
    seen: list[str] = []
    for image, label in _pair_folder(_images(image_folder, f"{what}_image_folder"), label_folder,
                                     ".xml", f"{what}_label_folder", parsed):
        item = Item(image, label_file=label or "")
        parsed.items.append(item)
        if label is None:
            continue
        try:
            root = ElementTree.fromstring(read_text(label, f"{what}_label_folder"))
        except (ElementTree.ParseError, DefusedXmlException) as err:
            parsed.issue("bad file", _short(label), f"{_short(label)}: not valid VOC XML ({err})")
            continue
        for number, obj in enumerate(root.iter("object"), 1):
            where = f"{_short(label)}: object {number}"
            name = (obj.findtext("name") or "").strip()
            box = obj.find("bndbox")
            if not name or box is None:
                parsed.issue("bad line", where, f"{where}: needs <name> and <bndbox>")
                continue
            try:
                x1, y1, x2, y2 = (_number((box.findtext(k) or "").strip())
                                  for k in ("xmin", "ymin", "xmax", "ymax"))
            except ValueError:
                parsed.issue("bad line", where, f"{where}: xmin, ymin, xmax, ymax must be numbers")
                continue
            if not _new_name(parsed, seen, name, where, f"{what}_label_folder"):
                continue
            checked = _check_box(parsed, Box(name, x1, y1, x2, y2, where))
            if checked is not None:
                item.boxes.append(checked)
    parsed.names = sorted(seen)
    return parsed


def parse_coco(image_folder: str, label_file: str, what: str = "train") -> Parsed:
    """One COCO JSON file: ``images`` (``file_name``), ``annotations`` (``bbox`` as ``[x, y,
    w, h]`` pixels), ``categories`` (checked by :func:`~digitsx.datasets.labelfiles.read_coco`)."""
    coco = read_coco(label_file, f"{what}_label_file")
    if not os.path.isdir(image_folder):
        raise InputError(f"{what}_image_folder: {image_folder} does not exist or is not a folder")
    parsed = Parsed([], [name for _, name in coco.categories], list(coco.issues))
    categories = dict(coco.categories)
    by_id = _coco_images(parsed, coco, image_folder, label_file)
    for number, ann in enumerate(coco.annotations):
        where = f"{_short(label_file)}: annotations[{number}]"
        box = _coco_box(parsed, ann, where, by_id, categories)
        if box is not None:
            by_id[ann["image_id"]].boxes.append(box)
    parsed.items = list(by_id.values())
    listed = {os.path.normpath(i.image) for i in parsed.items}
    for base, path in _images(image_folder, f"{what}_image_folder").items():
        if os.path.normpath(path) not in listed:
            parsed.issue("image without labels", _short(path), f"{_short(path)}: not in {_short(label_file)}")
    return parsed


def _coco_images(parsed: Parsed, coco, image_folder: str, label_file: str) -> dict:
    """``{image id: Item}`` of the listed images found inside the image folder."""
    by_id: dict = {}
    for number, image in enumerate(coco.images):
        where = f"{_short(label_file)}: images[{number}]"
        name = image["file_name"]
        path = os.path.normpath(os.path.join(image_folder, name))
        if os.path.isabs(name) or not path.startswith(os.path.normpath(image_folder) + os.sep):
            parsed.issue("bad line", where, f"{where}: file_name {name!r} leaves the image folder")
            continue
        if not os.path.isfile(path):
            parsed.issue("label without image", where, f"{where}: {name} is not in the image folder")
            continue
        by_id[image["id"]] = Item(path, label_file=label_file)
    return by_id


def _coco_box(parsed: Parsed, ann, where: str, by_id: dict, categories: dict) -> Box | None:
    """One annotation's box, or None (listed) when it does not fit."""
    if not isinstance(ann, dict):
        parsed.issue("bad line", where, f"{where}: not an object")
        return None
    image_id = ann.get("image_id")
    if not scalar_id(image_id) or image_id not in by_id:
        parsed.issue("bad line", where, f"{where}: image_id {image_id!r} is not a listed image")
        return None
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(finite(v) for v in bbox):
        parsed.issue("bad line", where, f"{where}: bbox must be [x, y, width, height] numbers")
        return None
    x, y, w, h = (float(v) for v in bbox)
    cat = ann.get("category_id")
    if not scalar_id(cat) or cat not in categories:
        parsed.issue("unknown class", where, f"{where}: category_id {cat!r} is not in categories")
        return None
    return _check_box(parsed, Box(categories[cat], x, y, x + w, y + h, where))


def yolo_names(label_folder: str, what: str = "train") -> tuple[list[str], str] | None:
    """Class names from ``data.yaml`` (``names:`` list or map), ``*.names`` or ``classes.txt``
    beside the labels or one folder up: (names, the file they came from)."""
    for folder in (label_folder, os.path.dirname(os.path.normpath(label_folder))):
        for name in ("data.yaml", "dataset.yaml"):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                data = load_yaml(read_text(path, f"{what}_label_folder"), _short(path), f"{what}_label_folder")
                names = data.get("names") if isinstance(data, dict) else None
                if not isinstance(names, (list, dict)) or not names:
                    raise InputError(f"{what}_label_folder: {_short(path)} needs a \"names\" list")
                return index_names(names, _short(path), f"{what}_label_folder"), path
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if entry.endswith(".names") or entry == "classes.txt":
                path = os.path.join(folder, entry)
                names = [line.strip() for line in read_text(path, f"{what}_label_folder").splitlines() if line.strip()]
                names = class_names(names, _short(path), f"{what}_label_folder")
                if names:
                    return names, path
    return None


def parse_yolo(image_folder: str, label_folder: str, what: str = "train") -> Parsed:
    """``ID.txt`` per image: ``class cx cy w h`` as fractions of the image; class names from
    ``data.yaml``, ``*.names`` or ``classes.txt``."""
    found = yolo_names(label_folder, what)
    if found is None:
        raise InputError(f"{what}_label_folder: no class names for YOLO labels: put data.yaml "
                         f"(names: [...]), a .names file or classes.txt beside the labels")
    names = found[0]
    parsed = Parsed([], names)
    for image, label in _pair_folder(_images(image_folder, f"{what}_image_folder"), label_folder,
                                     ".txt", f"{what}_label_folder", parsed):
        if label is not None and os.path.basename(label) == "classes.txt":
            continue
        item = Item(image, label_file=label or "")
        parsed.items.append(item)
        if label is None:
            continue
        for number, line in enumerate(read_text(label, f"{what}_label_folder").splitlines(), 1):
            where = f"{_short(label)}:{number}"
            cols = line.split()
            if not cols:
                continue
            if len(cols) < 5:
                parsed.issue("bad line", where, f"{where}: {len(cols)} columns, YOLO needs 5 "
                                                f"(class cx cy w h)")
                continue
            try:
                cls = int(cols[0])
                cx, cy, w, h = (_number(c) for c in cols[1:5])
            except ValueError:
                parsed.issue("bad line", where, f"{where}: expected a class index and four numbers")
                continue
            if not 0 <= cls < len(names):
                parsed.issue("unknown class", where, f"{where}: class {cls} is not in {_short(found[1])} "
                                                     f"(0–{len(names) - 1})")
                continue
            if not all(0 <= v <= 1 for v in (cx, cy, w, h)):
                parsed.issue("box outside image", where, f"{where}: YOLO values must be fractions 0–1")
                continue
            box = _check_box(parsed, Box(names[cls], cx, cy, w, h, where, normalised=True))
            if box is not None:
                item.boxes.append(box)
    return parsed


def parse(fmt: str, image_folder: str, labels: str, what: str = "train") -> Parsed:
    """Read one split: ``labels`` is the label folder (kitti, voc, yolo) or file (coco)."""
    if fmt == "kitti":
        return parse_kitti(image_folder, labels, what)
    if fmt == "voc":
        return parse_voc(image_folder, labels, what)
    if fmt == "coco":
        return parse_coco(image_folder, labels, what)
    if fmt == "yolo":
        return parse_yolo(image_folder, labels, what)
    raise InputError(f"label_format: {fmt!r} is not one of {', '.join(FORMATS)}")


def class_map(fmt: str, custom: list[str], names: list[str]) -> tuple[list[str], dict[str, int]]:
    """(class list, name → id). Id 0 is "don't care" (the background the detectors reserve):
    ``custom_classes`` gives ids by position; KITTI without it uses DIGITS's default map; the
    other formats put their own names after ``dontcare``. Names not in the map go to 0."""
    if custom:
        classes = [c.strip().lower() if fmt == "kitti" else c.strip() for c in custom]
        return classes, {c: i for i, c in enumerate(classes)}
    if fmt == "kitti":
        ids = {c: i for i, c in enumerate(KITTI_CLASSES)}
        ids.update(KITTI_ALIASES)
        return list(KITTI_CLASSES), ids
    classes = ["dontcare"] + [n for n in names if n.lower() != "dontcare"]
    ids = {c: i for i, c in enumerate(classes)}
    for name in names:
        if name.lower() == "dontcare":
            ids[name] = 0
    return classes, ids
