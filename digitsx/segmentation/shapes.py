"""Labelled shapes for segmentation tests and demos: circles, squares and triangles on noisy
backgrounds, with class maps written as palette PNGs (DIGITS's ``label`` method, VOC style with
255 on shape borders) and as RGB colour maps with ``colormap.txt`` (``textfile`` method).

    write_shapes(DEST, train=32, val=8)

writes ``DEST/images/{train,val}/NNNN.png``, ``DEST/palette/{train,val}/NNNN.png``,
``DEST/rgb/{train,val}/NNNN.png``, ``DEST/classes.txt``, ``DEST/colormap.txt``, CVAT's
Segmentation Mask 1.1 (``DEST/cvat/{split}/SegmentationClass/NNNN.png`` + ``labelmap.txt``) and
COCO (``DEST/coco/{split}.json``: squares and triangles as polygons, circles as RLE).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("background", "circle", "square", "triangle")
COLOURS = ((0, 0, 0), (220, 40, 40), (40, 200, 60), (50, 90, 230))


def palette() -> list[int]:
    flat = [c for colour in COLOURS for c in colour] + [0] * (256 - len(COLOURS)) * 3
    flat[255 * 3:255 * 3 + 3] = [224, 224, 192]  # VOC's ignore colour
    return flat


def _annotation(n: int, image: int, cls: int, x: int, y: int, s: int, width: int, height: int) -> dict:
    """COCO: a square or triangle as a polygon, a circle as RLE (pycocotools)."""
    ann = {"id": n, "image_id": image, "category_id": cls, "iscrowd": 0, "bbox": [x, y, s, s], "area": s * s}
    if cls == 2:
        ann["segmentation"] = [[x, y, x + s, y, x + s, y + s, x, y + s]]
    elif cls == 3:
        ann["segmentation"] = [[x + s / 2, y, x, y + s, x + s, y + s]]
    else:
        from pycocotools import mask as coco_mask

        circle = Image.new("L", (width, height), 0)
        ImageDraw.Draw(circle).ellipse([x, y, x + s - 1, y + s - 1], fill=1)
        rle = coco_mask.encode(np.asfortranarray(np.asarray(circle, np.uint8)))
        ann["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
    return ann


def write_shapes(dest: str | Path, train: int = 32, val: int = 8, width: int = 128, height: int = 128,
                 seed: int = 0, ignore_border: bool = True) -> Path:
    dest = Path(dest)
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        for sub in ("images", "palette", "rgb"):
            (dest / sub / split).mkdir(parents=True, exist_ok=True)
        (dest / "cvat" / split / "SegmentationClass").mkdir(parents=True, exist_ok=True)
        coco = {"images": [], "annotations": [],
                "categories": [{"id": i, "name": c} for i, c in enumerate(CLASSES) if i]}
        for index in range(count):
            base = rng.integers(40, 120, 3)
            pixels = np.clip(base + rng.normal(0, 15, (height, width, 3)), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels)
            label = Image.new("L", (width, height), 0)
            draw, ldraw = ImageDraw.Draw(image), ImageDraw.Draw(label)
            for _ in range(int(rng.integers(1, 4))):
                cls = int(rng.integers(1, len(CLASSES)))
                s = int(rng.integers(width // 6, width // 2.5))
                x, y = int(rng.integers(0, width - s)), int(rng.integers(0, height - s))
                colour = tuple(int(c) for c in rng.integers(130, 255, 3))
                shape = [x, y, x + s - 1, y + s - 1]
                coco["annotations"].append(_annotation(len(coco["annotations"]), index, cls, x, y, s,
                                                       width, height))
                for d, fill in ((draw, colour), (ldraw, cls)):
                    if cls == 1:
                        d.ellipse(shape, fill=fill, outline=255 if d is ldraw and ignore_border else None)
                    elif cls == 2:
                        d.rectangle(shape, fill=fill, outline=255 if d is ldraw and ignore_border else None)
                    else:
                        d.polygon([(x + s / 2, y), (x, y + s - 1), (x + s - 1, y + s - 1)], fill=fill,
                                  outline=255 if d is ldraw and ignore_border else None)
            stem = f"{index:04d}"
            image.save(dest / "images" / split / f"{stem}.png")
            pal = Image.fromarray(np.asarray(label), "L").convert("P")
            pal.putpalette(palette())
            pal.save(dest / "palette" / split / f"{stem}.png")
            lut = np.array(palette(), np.uint8).reshape(256, 3)
            Image.fromarray(lut[np.asarray(label)]).save(dest / "rgb" / split / f"{stem}.png")
            Image.fromarray(lut[np.asarray(label)]).save(dest / "cvat" / split / "SegmentationClass" / f"{stem}.png")
            coco["images"].append({"id": index, "file_name": f"{stem}.png", "width": width, "height": height})
        (dest / "coco").mkdir(exist_ok=True)
        (dest / "coco" / f"{split}.json").write_text(json.dumps(coco))
        (dest / "cvat" / split / "labelmap.txt").write_text(
            "# label:color_rgb:parts:actions\n" + "".join(f"{c}:{r},{g},{b}::\n" for c, (r, g, b) in zip(CLASSES, COLOURS)))
    (dest / "classes.txt").write_text("".join(f"{c}\n" for c in CLASSES))
    (dest / "colormap.txt").write_text("".join(f"{r} {g} {b}\n" for r, g, b in COLOURS))
    return dest
