"""Worker: build an object-detection dataset into LMDB.

    python -m digitsx.detection.build JOB_DIR

Reads ``spec.json`` (from :mod:`digitsx.detection.forms`); writes ``train/`` and ``val/`` LMDBs
of :mod:`~.records` (the padded, resized image and its boxes with class ids), ``labels.txt``
(class i on line i, 0 = don't care) and ``meta.json``: counts per class and split, box-size and
aspect histograms, and the health report (every skipped line, box and file, named). Images are
decoded, padded, resized and encoded on every core (threads: Pillow releases the GIL).
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets.resize import convert_channels
from .. import archives
from ..datasets.health import missing_from_splits
from ..datasets.lmdb_io import LmdbWriter, encode_image
from ..files import InputError
from ..jobs.protocol import Emitter, run_worker
from . import labels as L
from . import records

SPLITS = ("train", "val")
MAX_LISTED = 1000  # health entries kept in meta.json (the counts cover all)
SIZE_EDGES = [0, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 1e9]
ASPECT_EDGES = [0, 0.25, 0.4, 0.6, 0.8, 1.25, 1.67, 2.5, 4, 1e9]


@dataclass
class Done:
    record: bytes | None
    boxes: np.ndarray | None
    issues: list[dict]
    error: str | None = None  # the whole job fails (DIGITS: an image larger than the padding)


def fit(image, spec: dict):
    """Pad (top-left, on black) and resize as the dataset does: (image, x scale, y scale) from
    the source's pixels to the stored ones. A source larger than the padding (only at inference:
    the build refuses it) is first shrunk to fit, keeping its aspect."""
    from PIL import Image

    padding, resize = spec.get("padding"), spec.get("resize")
    sx = sy = 1.0
    if padding:
        pw, ph = padding
        w, h = image.size
        if w > pw or h > ph:
            shrink = min(pw / w, ph / h)
            image = image.resize((max(1, int(w * shrink)), max(1, int(h * shrink))), Image.BILINEAR)
            sx, sy = image.size[0] / w, image.size[1] / h
        if image.size != (pw, ph):
            canvas = Image.new(image.mode, (pw, ph))
            canvas.paste(image, (0, 0))
            image = canvas
    if resize:
        fx, fy = resize[0] / image.size[0], resize[1] / image.size[1]
        image = image.resize(tuple(resize), Image.BILINEAR)
        sx, sy = sx * fx, sy * fy
    return image, sx, sy


def process(item: L.Item, split: str, spec: dict, ids: dict[str, int]) -> Done:
    """One image and its boxes → a record (or the reason it was skipped)."""
    from PIL import Image, UnidentifiedImageError

    issues: list[dict] = []
    short = "/".join(Path(item.image).parts[-2:])
    try:
        with Image.open(item.image) as opened:
            opened.load()
            image = convert_channels(opened, spec["channel_conversion"])
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
        return Done(None, None, [{"kind": "unreadable image", "where": short,
                                  "message": f"{short}: not a readable image ({err})"}])
    w, h = image.size
    if spec.get("padding") and (w > spec["padding"][0] or h > spec["padding"][1]):
        return Done(None, None, [], f"{short} is {w}×{h}, larger than the padding "
                                    f"{spec['padding'][0]}×{spec['padding'][1]}: raise "
                                    f"padding_image_width/height")
    if not spec.get("padding") and spec.get("force_same_shape") and spec.get("first_shape") \
            and [w, h] != spec["first_shape"]:
        return Done(None, None, [{"kind": "wrong shape", "where": short,
                                  "message": f"{short}: {w}×{h}, not {spec['first_shape'][0]}×"
                                             f"{spec['first_shape'][1]} (dsopts_force_same_shape)"}])
    image, sx, sy = fit(image, spec)
    rows = []
    min_size = float(spec.get("val_min_box_size") or 0) if split == "val" else 0.0
    for box in item.boxes:
        x1, y1, x2, y2 = box.x1, box.y1, box.x2, box.y2
        if box.normalised:  # YOLO: centre and size as fractions
            cx, cy, bw, bh = x1 * w, y1 * h, x2 * w, y2 * h
            x1, y1, x2, y2 = cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2
        if x1 < -0.5 or y1 < -0.5 or x2 > w + 0.5 or y2 > h + 0.5:
            clipped = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
            issues.append({"kind": "box outside image", "where": box.where,
                           "message": f"{box.where}: box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) leaves "
                                      f"the {w}×{h} image; clipped"})
            x1, y1, x2, y2 = clipped
            if x2 <= x1 or y2 <= y1:
                continue
        cls = ids.get(box.name, ids.get(box.name.lower()))
        if cls is None:
            issues.append({"kind": "unknown class", "where": box.where,
                           "message": f"{box.where}: class {box.name!r} is not in the class list; "
                                      f"stored as don't care (0)"})
            cls = 0
        x1, x2, y1, y2 = x1 * sx, x2 * sx, y1 * sy, y2 * sy
        ignore = cls == 0 or (min_size > 0 and min(x2 - x1, y2 - y1) < min_size)
        rows.append([x1, y1, x2, y2, cls, 1.0 if ignore else 0.0])
    array = np.asarray(image)
    encoding = spec["encoding"]
    payload = encode_image(array, encoding)
    boxes = np.asarray(rows, np.float32).reshape(-1, 6)
    return Done(records.pack(boxes, array.shape, payload, encoding), boxes, issues)


def _histogram(values: list[float], edges: list[float]) -> dict:
    counts, _ = np.histogram(np.asarray(values, np.float64), bins=np.asarray(edges, np.float64))
    return {"edges": edges[:-1], "counts": counts.tolist()}


def plan(folder: Path, spec: dict, out: Emitter) -> tuple[dict[str, list[L.Item]], list[str],
                                                          dict[str, int], list[dict]]:
    """Read every label; (items per split, classes, name → id, issues)."""
    fmt = spec["label_format"]
    base = None
    if spec.get("archive"):
        dest = folder / "uploads" / "extracted"
        out.log(f"extracting {spec['archive']}")
        count = archives.extract(folder / spec["archive"], dest, int(spec.get("max_extract_bytes", 8 * 2**30)))
        out.log(f"extracted {count} files")
        base = dest.resolve()

    def where(path: str | None) -> str | None:
        if path is None or base is None:
            return path
        full = (base / path).resolve()
        if not str(full).startswith(str(base)):
            raise InputError(f"{path}: leaves the uploaded archive")
        return str(full)

    parsed = {}
    for split in SPLITS:
        paths = spec.get(split)
        if paths:
            parsed[split] = L.parse(fmt, where(paths["images"]), where(paths["labels"]), split)
    names = [n for p in parsed.values() for n in p.names]
    if fmt == "voc":  # no class list in the format: the names found, sorted, across splits
        names = sorted(set(names))
    classes, ids = L.class_map(fmt, spec.get("custom_classes") or [],
                               list(dict.fromkeys(names)))
    items = {s: p.items for s, p in parsed.items()}
    if "val" not in items:
        pct = float(spec.get("pct_val", 10))
        train = list(items["train"])
        random.Random(spec.get("seed", 0)).shuffle(train)
        n_val = int(round(len(train) * pct / 100)) if pct > 0 else 0
        if pct > 0 and len(train) > 1:
            n_val = min(max(1, n_val), len(train) - 1)
        items = {"train": sorted(train[n_val:], key=lambda i: i.image),
                 "val": sorted(train[:n_val], key=lambda i: i.image)}
    issues = [i for p in parsed.values() for i in p.issues]
    return items, classes, ids, issues


def clear_outputs(folder: Path) -> None:
    for split in SPLITS:
        shutil.rmtree(folder / split, ignore_errors=True)
    (folder / "meta.json").unlink(missing_ok=True)
    shutil.rmtree(folder / "uploads" / "extracted", ignore_errors=True)


def run(folder: Path, out: Emitter) -> dict:
    """Build the dataset in ``folder``; returns the summary also written to ``meta.json``."""
    spec = json.loads((folder / "spec.json").read_text())
    started = time.time()
    clear_outputs(folder)
    items, classes, ids, issues = plan(folder, spec, out)
    (folder / "labels.txt").write_text("".join(f"{c}\n" for c in classes))
    planned = {s: len(v) for s, v in items.items()}
    out.log(f"{len(classes)} classes ({', '.join(classes)}); images: "
            + ", ".join(f"{s} {n}" for s, n in planned.items()))
    out.result(labels=classes, planned=planned)
    if not items["train"]:
        raise InputError("no training images found (see the health report)")
    if not spec.get("padding") and spec.get("force_same_shape"):
        from PIL import Image

        with Image.open(items["train"][0].image) as first:
            spec["first_shape"] = list(first.size)
    w = _write_splits(folder, items, spec, ids, len(classes), out, issues)
    issues += missing_from_splits(classes, w.counts, "box", skip=(0,))  # 0: don't care
    if spec.get("archive"):
        archives.remove_tree(folder / "uploads" / "extracted")
    kinds: dict[str, int] = {}
    for issue in issues:
        kinds[issue["kind"]] = kinds.get(issue["kind"], 0) + 1
    elapsed = time.time() - started
    meta = {
        "task": "detection", "labels": classes, "label_format": spec["label_format"],
        "image": {**_stored_shape(folder), "encoding": spec["encoding"], "padding": spec.get("padding"),
                  "resize": spec.get("resize"), "channel_conversion": spec["channel_conversion"]},
        "backend": "lmdb", "splits": w.stats,
        "health": {"counts": kinds, "issues": issues[:MAX_LISTED]},
        "histograms": {"size": _histogram(w.sizes, SIZE_EDGES), "aspect": _histogram(w.aspects, ASPECT_EDGES)},
        "skipped": [i for i in issues if i["kind"] in ("unreadable image", "wrong shape")][:MAX_LISTED],
        "elapsed": elapsed,
        "images_per_second": sum(s["entries"] for s in w.stats.values()) / max(elapsed, 1e-9),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    out.result(distribution=w.counts, splits=w.stats, health=meta["health"]["counts"],
               images_per_second=meta["images_per_second"])
    return meta


@dataclass
class Written:
    """What writing the splits found: per split its entries, boxes and boxes per class; the
    training boxes' sizes and aspect ratios (the histograms)."""

    stats: dict
    counts: dict
    sizes: list = field(default_factory=list)
    aspects: list = field(default_factory=list)


def _write_splits(folder: Path, items: dict, spec: dict, ids: dict, classes: int, out: Emitter,
                  issues: list[dict]) -> Written:
    """Every split's records into its LMDB (images processed in a thread pool), with progress;
    an image larger than the padding fails the job (DIGITS's rule)."""
    total, done_count, last = max(1, sum(len(v) for v in items.values())), 0, 0.0
    w = Written({}, {s: [0] * classes for s in items})
    with ThreadPoolExecutor(int(spec.get("workers") or os.cpu_count() or 1)) as pool:
        for split, entries in items.items():
            if not entries:
                continue
            writer = LmdbWriter(folder / split)
            stored, boxes_total, ignored, paths = 0, 0, 0, []
            for item, done in zip(entries, pool.map(lambda i: process(i, split, spec, ids), entries)):
                if done.error:
                    writer.close()
                    raise InputError(done.error)
                issues += done.issues
                if done.record is not None:
                    writer.put(done.record)
                    stored += 1
                    paths.append(item.image)
                    boxes_total, ignored = _count_boxes(w, split, done.boxes, boxes_total, ignored)
                done_count += 1
                now = time.monotonic()
                if now - last > 0.5 or done_count == total:
                    last = now
                    out.progress(done_count, total)
                    out.result(distribution=w.counts)
            writer.close()
            (folder / f"{split}.txt").write_text("".join(f"{p}\n" for p in paths))
            w.stats[split] = {"entries": stored, "boxes": boxes_total, "counts": w.counts[split],
                              "dont_care": ignored}
            out.log(f"{split}: {stored} images, {boxes_total} boxes")
    if not w.stats.get("train", {}).get("entries"):
        raise InputError("no training image could be read (see the health report)")
    return w


def _count_boxes(w: Written, split: str, boxes, total: int, ignored: int) -> tuple[int, int]:
    """Add one image's boxes to the counts (and the training boxes to the histograms)."""
    for x1, y1, x2, y2, cls, ignore in boxes.tolist():
        w.counts[split][int(cls)] += 1
        total += 1
        ignored += int(ignore)
        if split == "train" and not ignore:
            w.sizes.append(math.sqrt(max(0.0, (x2 - x1) * (y2 - y1))))
            w.aspects.append((x2 - x1) / max(y2 - y1, 1e-6))
    return total, ignored


def _stored_shape(folder: Path) -> dict:
    """``{width, height, channels}`` of the first stored training image."""
    from ..datasets.lmdb_io import LmdbReader

    reader = LmdbReader(folder / "train")
    try:
        array, _ = records.decode(reader.raw(0))
    finally:
        reader.close()
    return {"width": int(array.shape[1]), "height": int(array.shape[0]),
            "channels": 1 if array.ndim == 2 else int(array.shape[2])}


def main(job_dir: str) -> int:
    """Entry point: 0 when built, 2 for bad input (with a message), 1 for a bug."""
    return run_worker(run, job_dir, (InputError,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
