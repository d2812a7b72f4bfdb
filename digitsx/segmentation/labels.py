"""Reading segmentation labels: image ↔ label pairs, palette and grayscale label images,
RGB labels quantised to a colour map (``colormap.txt``, CVAT's ``labelmap.txt``), and COCO
polygons / RLE drawn with pycocotools. Every problem names its file; bad items are listed as
issues, a file that cannot be used at all is an :class:`InputError`."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..files import InputError
from . import IGNORE

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")
VOC_IGNORE = (224 << 16) | (224 << 8) | 192  # VOC's border colour: "ignore"


def _files(folder: str, what: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        raise InputError(f"{what}: {folder} does not exist or is not a folder")
    return {os.path.splitext(n)[0]: os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS}


def pairs(features: str, labels: str, what: str, issues: list[dict]) -> list[tuple[str, str]]:
    """(image, label) by base name; images without a label and labels without an image listed."""
    images, marks = _files(features, f"{what}feature_folder"), _files(labels, f"{what}label_folder")
    for base in sorted(set(marks) - set(images)):
        issues.append({"kind": "label without image", "where": marks[base],
                       "message": f"{os.path.basename(marks[base])}: no image {base}.* in the feature folder"})
    out = []
    for base, image in images.items():
        if base not in marks:
            issues.append({"kind": "image without label", "where": image,
                           "message": f"{os.path.basename(image)}: no label {base}.* in the label folder"})
        else:
            out.append((image, marks[base]))
    return out


def coco_pairs(features: str, json_path: str, what: str, issues: list[dict]) -> tuple[list, list[str]]:
    """COCO instance annotations (polygons or RLE) → ``(image, ("coco", annotations, height,
    width))`` pairs and the class names (``background`` then the categories by id)."""
    if not os.path.isdir(features):
        raise InputError(f"{what}feature_folder: {features} does not exist or is not a folder")
    try:
        data = json.loads(Path(json_path).read_text(errors="replace"))
    except OSError as err:
        raise InputError(f"{what}label_folder: cannot read {json_path} ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{what}label_folder: {os.path.basename(json_path)} is not valid JSON "
                         f"(line {err.lineno}: {err.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise InputError(f"{what}label_folder: {os.path.basename(json_path)} is not a COCO file")
    cats = sorted((c for c in data.get("categories") or [] if isinstance(c, dict) and "id" in c),
                  key=lambda c: c["id"])
    index = {c["id"]: i + 1 for i, c in enumerate(cats)}
    names = ["background"] + [str(c.get("name", c["id"])) for c in cats]
    anns: dict = {}
    for n, ann in enumerate(data.get("annotations") or []):
        if isinstance(ann, dict) and ann.get("category_id") in index and ann.get("segmentation"):
            anns.setdefault(ann.get("image_id"), []).append({**ann, "_class": index[ann["category_id"]], "_n": n})
        else:
            issues.append({"kind": "bad annotation", "where": json_path,
                           "message": f"{os.path.basename(json_path)}: annotations[{n}] has no segmentation "
                                      f"or an unknown category_id; skipped"})
    out = []
    for image in data["images"]:
        if not isinstance(image, dict) or not isinstance(image.get("file_name"), str):
            continue
        path = os.path.normpath(os.path.join(features, image["file_name"]))
        if not path.startswith(os.path.normpath(features) + os.sep) or not os.path.isfile(path):
            issues.append({"kind": "label without image", "where": json_path,
                           "message": f"{os.path.basename(json_path)}: image {image['file_name']!r} is not in "
                                      f"the feature folder"})
            continue
        out.append((path, ("coco", anns.get(image.get("id"), []), int(image.get("height") or 0),
                           int(image.get("width") or 0), os.path.basename(json_path))))
    return out, names


def rasterize(label: tuple, size: tuple[int, int]) -> tuple[np.ndarray, list[dict]]:
    """A COCO image's annotations → its class map (larger objects first, so small ones stay on
    top; crowd regions are ignore), decoded by pycocotools."""
    from pycocotools import mask as coco_mask

    _, anns, h, w, source = label
    width, height = size
    out = np.zeros((height, width), np.uint8)
    issues = []
    for ann in sorted(anns, key=lambda a: -float(a.get("area") or 0)):
        seg = ann["segmentation"]
        try:
            if isinstance(seg, list):
                points = [p for poly in seg for p in poly]
                if any(v < -1 for v in points) or any(x > width + 1 for x in points[0::2]) \
                        or any(y > height + 1 for y in points[1::2]):
                    issues.append({"kind": "polygon outside the image", "where": source,
                                   "message": f"{source}: annotations[{ann['_n']}] has points outside the "
                                              f"{width}×{height} image; clipped"})
                rle = coco_mask.merge(coco_mask.frPyObjects(seg, height, width))
            elif isinstance(seg.get("counts"), list):
                rle = coco_mask.frPyObjects(seg, height, width)
            else:
                rle = seg
            mask = coco_mask.decode(rle).astype(bool)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            issues.append({"kind": "bad annotation", "where": source,
                           "message": f"{source}: annotations[{ann['_n']}] cannot be decoded ({err})"})
            continue
        if mask.shape != out.shape:
            issues.append({"kind": "size mismatch", "where": source,
                           "message": f"{source}: annotations[{ann['_n']}] is for a {mask.shape[1]}×"
                                      f"{mask.shape[0]} image, the image is {width}×{height}"})
            continue
        out[mask] = IGNORE if ann.get("iscrowd") else ann["_class"]
    return out, issues


def cvat_labelmap(label_folder: str) -> tuple[list[str], list[tuple[int, int, int]]]:
    """CVAT "Segmentation Mask 1.1": ``labelmap.txt`` beside ``SegmentationClass`` (``name:r,g,b::``
    per line) → (names, colours)."""
    for folder in (label_folder, os.path.dirname(os.path.normpath(label_folder))):
        path = os.path.join(folder, "labelmap.txt")
        if os.path.isfile(path):
            names, colours = [], []
            for number, line in enumerate(Path(path).read_text(errors="replace").splitlines(), 1):
                if not line.strip() or line.startswith("#"):
                    continue
                parts = line.split(":")
                try:
                    rgb = tuple(int(v) for v in parts[1].split(","))
                    assert len(rgb) == 3 and all(0 <= v <= 255 for v in rgb)
                except (IndexError, ValueError, AssertionError):
                    raise InputError(f"label_folder: labelmap.txt:{number}: expected 'name:r,g,b::', "
                                     f"got {line.strip()!r}") from None
                names.append(parts[0])
                colours.append(rgb)
            return names, colours
    raise InputError(f"label_folder: no labelmap.txt beside {label_folder} (CVAT's Segmentation Mask 1.1)")


def read_colormap(path: str) -> list[tuple[int, int, int]]:
    """``R G B`` per line (class i on line i); InputError naming the line."""
    colours = []
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as err:
        raise InputError(f"colormap_text_file: cannot read {path} ({err.strerror})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            rgb = tuple(int(p) for p in parts[:3])
        except ValueError:
            rgb = ()
        if len(parts) < 3 or len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise InputError(f"colormap_text_file: {os.path.basename(path)}:{number}: expected "
                             f"'R G B' (0–255), got {line.strip()!r}")
        colours.append(rgb)
    if not colours:
        raise InputError(f"colormap_text_file: {os.path.basename(path)} has no colours")
    return colours


def class_map(label_path: str, spec: dict, lut: dict | None) -> tuple[np.ndarray | None, list[dict], list[int] | None]:
    """A label file → (class indexes H×W uint8 or None, issues, its palette)."""
    from PIL import Image

    name = os.path.basename(label_path)
    with Image.open(label_path) as opened:
        opened.load()
        mode = opened.mode
        palette = opened.getpalette() if mode == "P" else None
        if spec["colormap_method"] in ("textfile", "cvat"):
            rgb = np.asarray(opened.convert("RGB")).astype(np.int32)
            keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            out = np.full(keys.shape, IGNORE, np.uint8)
            for key, cls in lut.items():
                out[keys == key] = cls
            out[keys == VOC_IGNORE] = IGNORE  # VOC's border colour means "ignore", silently
            unknown = int(((out == IGNORE) & (keys != VOC_IGNORE)).sum())
            issues = []
            if unknown:
                colours = np.unique(keys[(out == IGNORE) & (keys != VOC_IGNORE)])[:5]
                shown = ", ".join(f"({k >> 16} {(k >> 8) & 255} {k & 255})" for k in colours)
                issues.append({"kind": "colour outside the colour map", "where": label_path,
                               "message": f"{name}: {unknown} pixels of colours not in the colour map "
                                          f"({shown}); stored as ignore (255)"})
            return out, issues, None
        if mode in ("P", "L"):
            return np.asarray(opened, np.uint8), [], palette
        if mode == "1":
            return np.asarray(opened, np.uint8), [], None
        return None, [{"kind": "RGB label without a colour map", "where": label_path,
                       "message": f"{name}: a {mode} label needs colormap_method=textfile and a "
                                  f"colour map (or a palette/grayscale PNG)"}], None
