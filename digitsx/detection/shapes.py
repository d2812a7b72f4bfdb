"""Labelled shapes for tests and demos: circles, squares and triangles on noisy backgrounds,
with their boxes written in every label format digitsx reads.

    write_shapes(DEST, train=64, val=16)

writes ``DEST/images/{train,val}/NNNN.png`` and, for the same boxes, ``DEST/kitti/{split}/``
(``ID.txt``), ``DEST/voc/{split}/`` (``ID.xml``), ``DEST/yolo/{split}/`` (``ID.txt``, with
``DEST/yolo/data.yaml``) and ``DEST/coco/{split}.json``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle")
COLOURS = ((230, 60, 50), (60, 200, 80), (70, 110, 240), (240, 220, 60), (220, 90, 220))


def _image(rng: np.random.Generator, width: int, height: int, sizes: tuple[int, int],
           most: int) -> tuple[Image.Image, list[tuple[str, int, int, int, int]]]:
    base = rng.integers(0, 90, 3)
    pixels = np.clip(base + rng.normal(0, 18, (height, width, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    boxes: list[tuple[str, int, int, int, int]] = []
    for _ in range(int(rng.integers(1, most + 1))):
        for _attempt in range(20):
            s = int(rng.integers(sizes[0], sizes[1] + 1))
            x, y = int(rng.integers(0, width - s)), int(rng.integers(0, height - s))
            if all(x + s <= b[1] or b[3] <= x or y + s <= b[2] or b[4] <= y for b in boxes):
                break
        else:
            continue
        name = CLASSES[int(rng.integers(0, len(CLASSES)))]
        colour = tuple(int(c) for c in COLOURS[int(rng.integers(0, len(COLOURS)))])
        if name == "circle":
            draw.ellipse([x, y, x + s - 1, y + s - 1], fill=colour)
        elif name == "square":
            draw.rectangle([x, y, x + s - 1, y + s - 1], fill=colour)
        else:
            draw.polygon([(x + s / 2, y), (x, y + s - 1), (x + s - 1, y + s - 1)], fill=colour)
        boxes.append((name, x, y, x + s, y + s))
    return image, boxes


def _voc(file: str, width: int, height: int, boxes) -> str:
    objects = "".join(
        f"<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{x1}</xmin>"
        f"<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for n, x1, y1, x2, y2 in boxes)
    return (f"<annotation><filename>{file}</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{objects}</annotation>\n")


def write_shapes(dest: str | Path, train: int = 64, val: int = 16, width: int = 192,
                 height: int = 192, sizes: tuple[int, int] = (32, 72), most: int = 3,
                 seed: int = 0) -> Path:
    """Write the images and every label format under ``dest``; returns ``dest``."""
    dest = Path(dest)
    rng = np.random.default_rng(seed)
    ids = {c: i for i, c in enumerate(CLASSES)}
    for split, count in (("train", train), ("val", val)):
        folders = {k: dest / k / split for k in ("images", "kitti", "voc", "yolo")}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        coco = {"images": [], "annotations": [],
                "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]}
        for index in range(count):
            stem = f"{index:04d}"
            image, boxes = _image(rng, width, height, sizes, most)
            image.save(folders["images"] / f"{stem}.png")
            (folders["kitti"] / f"{stem}.txt").write_text("".join(
                f"{n} 0.00 0 0.00 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} 0 0 0 0 0 0 0\n"
                for n, x1, y1, x2, y2 in boxes))
            (folders["voc"] / f"{stem}.xml").write_text(_voc(f"{stem}.png", width, height, boxes))
            (folders["yolo"] / f"{stem}.txt").write_text("".join(
                f"{ids[n]} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n" for n, x1, y1, x2, y2 in boxes))
            coco["images"].append({"id": index, "file_name": f"{stem}.png", "width": width,
                                   "height": height})
            for n, x1, y1, x2, y2 in boxes:
                coco["annotations"].append({"id": len(coco["annotations"]), "image_id": index,
                                            "category_id": ids[n] + 1, "iscrowd": 0,
                                            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
        (dest / "coco").mkdir(parents=True, exist_ok=True)
        (dest / "coco" / f"{split}.json").write_text(json.dumps(coco))
    (dest / "yolo" / "data.yaml").write_text("names: [" + ", ".join(CLASSES) + "]\n")
    return dest
