"""Worker: build a segmentation dataset into LMDB.

    python -m digitsx.segmentation.build JOB_DIR

Pairs each feature image with the label of the same base name (any extension), reads the label
as class indexes — palette or grayscale images (``colormap_method=label``; one palette for all)
or RGB images quantised to ``colormap.txt`` (``textfile``) — resizes (images bilinear, labels
nearest), and writes ``train/`` and ``val/`` LMDBs of :mod:`~.records`, ``labels.txt`` and
``meta.json``: pixel share and image count per class and split, the palette, and the health
report (every skipped file, named). Images are processed on every core (threads).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.resize import convert_channels
from .. import archives
from ..datasets.health import missing_from_splits
from ..datasets.lmdb_io import LmdbWriter, encode_image, pack as pack_image
from ..files import InputError
from ..jobs.protocol import Emitter, run_worker
from . import records
from .labels import class_map, coco_pairs, cvat_labelmap, pairs, rasterize, read_class_labels, read_colormap

MAX_LISTED = 1000


@dataclass
class Done:
    record: bytes | None
    counts: np.ndarray | None  # pixels per class (256 bins; 255 = ignore)
    issues: list[dict]
    palette: list[int] | None = None


def process(image_path: str, label_path: str, spec: dict, lut: dict | None) -> Done:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image_path) as opened:
            opened.load()
            image = convert_channels(opened, spec["channel_conversion"])
        if isinstance(label_path, tuple):  # COCO: drawn from its annotations
            label, issues = rasterize(label_path, image.size)
            palette = None
            label_path = f"{label_path[4]} ({os.path.basename(image_path)})"
        else:
            label, issues, palette = class_map(label_path, spec, lut)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
        return Done(None, None, [{"kind": "unreadable image", "where": image_path,
                                  "message": f"{os.path.basename(image_path)} or its label: not a "
                                             f"readable image ({err})"}])
    if label is None:
        return Done(None, None, issues)
    if label.shape != (image.size[1], image.size[0]):
        return Done(None, None, issues + [{
            "kind": "size mismatch", "where": label_path,
            "message": f"{os.path.basename(label_path)} is {label.shape[1]}×{label.shape[0]}, its image "
                       f"{image.size[0]}×{image.size[1]}"}])
    if spec.get("resize"):
        w, h = spec["resize"]
        image = image.resize((w, h), Image.BILINEAR)
        label = np.asarray(Image.fromarray(label, "L").resize((w, h), Image.NEAREST))
    array = np.asarray(image)
    record = pack_image(0, array.shape, encode_image(array, spec["encoding"]), spec["encoding"])
    return Done(records.pack(record, label), np.bincount(label.ravel(), minlength=256), issues, palette)


def run(folder: Path, out: Emitter) -> dict:
    spec = json.loads((folder / "spec.json").read_text())
    started = time.time()
    for split in ("train", "val"):
        shutil.rmtree(folder / split, ignore_errors=True)
    base, where = _sources(folder, spec)
    issues: list[dict] = []
    items, coco_names = _items(spec, where, issues)
    lut, names, colours = _class_sources(spec, where, coco_names)
    written = _write_splits(folder, items, spec, lut, out, issues)
    labels, colours = _classes(written, names, lut, colours, spec["colormap_method"], issues)
    meta = _meta(folder, spec, written, labels, colours, issues, time.time() - started)
    if base is not None:
        archives.remove_tree(folder / "uploads" / "extracted")
    out.result(labels=labels, splits=written.stats, health=meta["health"]["counts"],
               images_per_second=meta["images_per_second"])
    return meta


def _sources(folder: Path, spec: dict):
    """(the unpacked upload's folder or None, ``where(path)``: a path of the form inside it)."""
    base = None
    if spec.get("archive"):
        dest = folder / "uploads" / "extracted"
        shutil.rmtree(dest, ignore_errors=True)
        archives.extract(folder / spec["archive"], dest, int(spec.get("max_extract_bytes", 8 * 2**30)))
        base = dest.resolve()

    def where(path: str) -> str:
        if base is None:
            return path
        full = (base / path).resolve()
        if not str(full).startswith(str(base)):
            raise InputError(f"{path}: leaves the uploaded archive")
        return str(full)

    return base, where


def _items(spec: dict, where, issues: list[dict]) -> tuple[dict, list[str] | None]:
    """``{split: [(image, label)]}`` (a seeded validation share when there is no validation
    folder) and COCO's class names (None for the other encodings)."""
    coco_names = None

    def split_pairs(part: dict, what: str):
        nonlocal coco_names
        if spec["colormap_method"] == "coco":
            found, coco_names = coco_pairs(where(part["features"]), where(part["labels"]), what, issues)
            return found
        return pairs(where(part["features"]), where(part["labels"]), what, issues)

    items = {"train": split_pairs(spec["train"], "")}
    if spec.get("val"):
        items["val"] = split_pairs(spec["val"], "validation_")
    else:
        train = list(items["train"])
        random.Random(spec.get("seed", 0)).shuffle(train)
        n_val = int(round(len(train) * float(spec.get("pct_val", 10)) / 100))
        if spec.get("pct_val", 10) and len(train) > 1:
            n_val = min(max(1, n_val), len(train) - 1)
        items = {"train": sorted(train[n_val:]), "val": sorted(train[:n_val])}
    if not items["train"]:
        raise InputError("no training image has a label (see the health report)")
    return items, coco_names


def _class_sources(spec: dict, where, names: list[str] | None):
    """(colour → class lookup or None, class names or None, colours or None) from the colour
    map, CVAT's labelmap.txt, COCO's categories and the class labels file."""
    lut, colours = None, None
    if spec["colormap_method"] == "textfile":
        colours = read_colormap(where(spec["colormap_file"]))
    elif spec["colormap_method"] == "cvat":
        names, colours = cvat_labelmap(where(spec["train"]["labels"]))
    if colours:
        lut = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(colours)}
    if spec.get("class_labels_file"):
        names = read_class_labels(where(spec["class_labels_file"]))
    return lut, names, colours


@dataclass
class Written:
    """What writing the splits found: entries per split, pixels and images per class, the
    first label's palette."""

    stats: dict
    pixels: dict
    images: dict
    palette: list[int] | None


def _write_splits(folder: Path, items: dict, spec: dict, lut, out: Emitter, issues: list[dict]) -> Written:
    """Every split's records into its LMDB (images decoded in a thread pool), with progress."""
    total = sum(len(v) for v in items.values())
    done_count, last = 0, 0.0
    w = Written({}, {s: np.zeros(256, np.int64) for s in items}, {s: np.zeros(256, np.int64) for s in items}, None)
    with ThreadPoolExecutor(int(spec.get("workers") or os.cpu_count() or 1)) as pool:
        for split, entries in items.items():
            if not entries:
                continue
            writer = LmdbWriter(folder / split)
            stored = 0
            for (image_path, _), done in zip(entries, pool.map(lambda p: process(p[0], p[1], spec, lut), entries)):
                issues += done.issues
                if done.record is not None:
                    _check_palette(w, done.palette, image_path, issues)
                    writer.put(done.record)
                    stored += 1
                    w.pixels[split] += done.counts
                    w.images[split] += done.counts > 0
                done_count += 1
                now = time.monotonic()
                if now - last > 0.5 or done_count == total:
                    last = now
                    out.progress(done_count, total)
                    out.result(pixels={s: v[:255].tolist() for s, v in w.pixels.items()})
            writer.close()
            w.stats[split] = {"entries": stored}
            out.log(f"{split}: {stored} images")
    if not w.stats.get("train", {}).get("entries"):
        raise InputError("no training image could be read (see the health report)")
    return w


def _check_palette(w: Written, palette: list[int] | None, image_path: str, issues: list[dict]) -> None:
    if palette is None:
        return
    if w.palette is None:
        w.palette = palette
    elif palette[:768] != w.palette[:768]:
        issues.append({"kind": "palette differs", "where": image_path,
                       "message": f"{os.path.basename(image_path)}'s label has another "
                                  f"palette than the first; its indexes are used as they are"})


def _classes(w: Written, names, lut, colours, method: str, issues: list[dict]):
    """(class names, colours): as many classes as named, coloured or seen; classes never seen in
    training listed; each split's share of pixels per class."""
    seen = np.nonzero((w.pixels["train"] + w.pixels.get("val", 0))[:255])[0]
    count = max(len(names) if names else 0, len(lut) if lut else 0, int(seen.max()) + 1 if len(seen) else 1)
    if colours is None and method == "coco":
        from .shapes import palette as default_palette

        flat = default_palette()
        colours = [flat[3 * i:3 * i + 3] for i in range(count)]
    labels = [(names[i] if names and i < len(names) and names[i] else f"Class #{i}") for i in range(count)]
    for i in range(count):
        if not w.pixels["train"][i]:
            issues.append({"kind": "class never appears", "where": labels[i],
                           "message": f"class {i} ({labels[i]}) has no pixel in the training images"})
    issues += missing_from_splits(labels, {s: v[:count].tolist() for s, v in w.pixels.items()}, "pixel",
                                  splits=("val", "test"))  # training: "class never appears", above
    if colours:
        colours = [list(c) for c in colours]
    elif w.palette:
        colours = [w.palette[3 * i:3 * i + 3] for i in range(count)]
    for split in w.stats:
        valid = max(1, int(w.pixels[split][:255].sum()))
        w.stats[split].update(pixels=w.pixels[split][:count].tolist(), ignored=int(w.pixels[split][255]),
                              share=[round(float(v) / valid, 5) for v in w.pixels[split][:count]],
                              images=w.images[split][:count].tolist())
    return labels, colours or None


def _meta(folder: Path, spec: dict, w: Written, labels: list[str], colours, issues: list[dict],
          elapsed: float) -> dict:
    """``labels.txt`` and ``meta.json`` (the stored images' shape read back from the LMDB)."""
    from ..datasets.lmdb_io import LmdbReader

    (folder / "labels.txt").write_text("".join(f"{n}\n" for n in labels))
    reader = LmdbReader(folder / "train")
    array, _ = records.decode(reader.raw(0))
    reader.close()
    kinds: dict[str, int] = {}
    for issue in issues:
        kinds[issue["kind"]] = kinds.get(issue["kind"], 0) + 1
    meta = {"task": "segmentation", "labels": labels, "palette": colours,
            "image": {"width": int(array.shape[1]), "height": int(array.shape[0]),
                      "channels": 1 if array.ndim == 2 else int(array.shape[2]), "encoding": spec["encoding"],
                      "resize": spec.get("resize"), "channel_conversion": spec["channel_conversion"]},
            "backend": "lmdb", "splits": w.stats, "health": {"counts": kinds, "issues": issues[:MAX_LISTED]},
            "elapsed": elapsed,
            "images_per_second": sum(s["entries"] for s in w.stats.values()) / max(elapsed, 1e-9)}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def main(job_dir: str) -> int:
    return run_worker(run, job_dir, (InputError,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
