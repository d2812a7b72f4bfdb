"""Reading segmentation labels: image ↔ label pairs, palette and grayscale label images,
RGB labels quantised to a colour map (``colormap.txt``, CVAT's ``labelmap.txt``), and COCO
polygons / RLE drawn with pycocotools. Every problem names its file; bad items are listed as
issues, a file that cannot be used at all is an :class:`InputError`."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..datasets.labelfiles import class_names, finite, read_coco, read_text, scalar_id
from ..files import InputError
from . import IGNORE

MAX_CLASSES = IGNORE - 1  # a class map is uint8: background 0, classes 1..254, 255 = ignore

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
    source = os.path.basename(json_path)
    coco = read_coco(json_path, f"{what}label_folder", need_annotations=False, max_classes=MAX_CLASSES)
    issues.extend(coco.issues)
    index = {cat_id: i + 1 for i, (cat_id, _) in enumerate(coco.categories)}
    names = ["background"] + [name for _, name in coco.categories]
    anns: dict = {}
    for n, ann in enumerate(coco.annotations):
        if isinstance(ann, dict) and scalar_id(ann.get("category_id")) and ann["category_id"] in index \
                and scalar_id(ann.get("image_id")) and ann.get("segmentation"):
            anns.setdefault(ann["image_id"], []).append({**ann, "_class": index[ann["category_id"]], "_n": n})
        else:
            issues.append({"kind": "bad annotation", "where": json_path,
                           "message": f"{source}: annotations[{n}] has no segmentation, or an unknown "
                                      f"category_id or image_id; skipped"})
    out = []
    for image in coco.images:
        path = os.path.normpath(os.path.join(features, image["file_name"]))
        if not path.startswith(os.path.normpath(features) + os.sep) or not os.path.isfile(path):
            issues.append({"kind": "label without image", "where": json_path,
                           "message": f"{source}: image {image['file_name']!r} is not in the feature folder"})
            continue
        out.append((path, ("coco", anns.get(image["id"], []), int(image.get("height") or 0),
                           int(image.get("width") or 0), source)))
    return out, names


def _coco_rle(seg, ann: dict, size: tuple[int, int], source: str, issues: list[dict]):
    """An annotation's segmentation as pycocotools RLE, checked before pycocotools sees it
    (it crashes on NaN or huge coordinates and decodes any size it is given); None (listed)
    when it cannot be used."""
    from pycocotools import mask as coco_mask

    width, height = size
    name = f"{source}: annotations[{ann['_n']}]"

    def skip(kind: str, message: str):
        issues.append({"kind": kind, "where": source, "message": f"{name} {message}; skipped"})

    if isinstance(seg, list):
        if not seg or not all(isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
                              for poly in seg):
            return skip("bad annotation", "needs polygons of at least 3 x, y points")
        points = [p for poly in seg for p in poly]
        if not all(finite(v) for v in points):
            return skip("bad annotation", "has a coordinate that is not a finite number")
        bound = 10 * max(width, height) + 1000  # pycocotools rasterises every edge: keep it near
        if any(abs(v) > bound for v in points):
            return skip("polygon outside the image", f"has points far outside the {width}×{height} image")
        if any(v < -1 for v in points) or any(x > width + 1 for x in points[0::2]) \
                or any(y > height + 1 for y in points[1::2]):
            issues.append({"kind": "polygon outside the image", "where": source,
                           "message": f"{name} has points outside the {width}×{height} image; clipped"})
        return coco_mask.merge(coco_mask.frPyObjects([[float(v) for v in p] for p in seg], height, width))
    if not isinstance(seg, dict):
        return skip("bad annotation", "has a segmentation that is neither polygons nor RLE")
    rle_size, counts = seg.get("size"), seg.get("counts")
    if not isinstance(rle_size, list) or len(rle_size) != 2 or \
            not all(isinstance(v, int) and not isinstance(v, bool) for v in rle_size):
        return skip("bad annotation", "has an RLE without a [height, width] size")
    if rle_size != [height, width]:
        return skip("size mismatch", f"is for a {rle_size[1]}×{rle_size[0]} image, the image is "
                                     f"{width}×{height}")
    if isinstance(counts, str):  # COCO's compressed counts, read here, not by pycocotools' C
        counts = _string_counts(counts)
    if not isinstance(counts, list) or \
            not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts) \
            or sum(counts) > height * width:
        return skip("bad annotation", "has RLE counts that are not non-negative integers "
                                      "adding up to at most the image's pixels")
    return coco_mask.frPyObjects({"size": rle_size, "counts": counts}, height, width)


def _string_counts(text: str) -> list[int] | None:
    """COCO's compressed RLE string → its run lengths (pycocotools' ``rleFrString`` in Python,
    which checks what the C code does not: the alphabet, the end of the string, the shifts);
    None when malformed."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x = k = 0
        more = True
        while more:
            if p >= len(text) or not 48 <= ord(text[p]) < 112 or k > 6:
                return None
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rasterize(label: tuple, size: tuple[int, int]) -> tuple[np.ndarray, list[dict]]:
    """A COCO image's annotations → its class map (larger objects first, so small ones stay on
    top; crowd regions are ignore), decoded by pycocotools after :func:`_coco_rle` checked each."""
    from pycocotools import mask as coco_mask

    _, anns, h, w, source = label
    width, height = size
    out = np.zeros((height, width), np.uint8)
    issues: list[dict] = []
    for ann in sorted(anns, key=lambda a: -(float(a["area"]) if finite(a.get("area")) else 0.0)):
        try:
            rle = _coco_rle(ann["segmentation"], ann, size, source, issues)
            if rle is None:
                continue
            mask = coco_mask.decode(rle).astype(bool)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as err:
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
            return class_names(names, "labelmap.txt", "label_folder", MAX_CLASSES + 1), colours
    raise InputError(f"label_folder: no labelmap.txt beside {label_folder} (CVAT's Segmentation Mask 1.1)")


def read_class_labels(path: str) -> list[str]:
    """``class_labels_file``: line i names class i (at most a class map's 255 classes)."""
    text = read_text(path, "class_labels_file")
    return class_names([line.strip() for line in text.splitlines()], "the labels file",
                       "class_labels_file", MAX_CLASSES + 1)


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
    if len(colours) > MAX_CLASSES + 1:
        raise InputError(f"colormap_text_file: {os.path.basename(path)} has {len(colours)} colours; "
                         f"a class map holds at most {MAX_CLASSES + 1} classes (255 is ignore)")
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
