"""Worker: build an image classification dataset into LMDB.

    python -m digitsx.classification.build JOB_DIR

Reads ``spec.json``; writes ``train/ val/ test/`` LMDBs, ``<split>_labels.npy``,
``labels.txt``, ``<split>.txt`` file lists, ``mean.npy`` + ``mean.png``, ``meta.json``.
Decoding, resizing and encoding run on every core (threads: Pillow releases the GIL in all
three; ``bench/dataset_build.py`` compares with processes); one writer appends to LMDB in order.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from ..jobs.protocol import Emitter, run_worker
from .. import archives
from . import discover
from .discover import SPLITS, DatasetInputError, Entry
from .health import health_report
from .imaging import ImageJob, ParallelImages
from ..datasets.lmdb_io import LmdbWriter, pack


class Progress:
    """Counts processed images and reports progress (and the class distribution) ~5×/s."""

    def __init__(self, out: Emitter, total: int) -> None:
        self.out, self.total, self.done = out, max(1, total), 0
        self.last = self.last_dist = 0.0

    def tick(self, distribution: dict) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= 0.2 or self.done == self.total:
            self.last = now
            self.out.progress(self.done, self.total)
        if now - self.last_dist >= 1.0:
            self.last_dist = now
            self.out.result(distribution=distribution)


def _read(folder: Path, path: str) -> str:
    full = Path(path) if os.path.isabs(path) else folder / path
    try:
        return full.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise DatasetInputError(f"{path}: file not found") from None


def plan_folder(folder: Path, spec: dict, out: Emitter) -> tuple[list[str], dict, list, list]:
    """Labels, splits, skipped files and dropped classes for ``method=folder``."""
    f, roots = spec["folder"], list(spec["data_roots"])
    train = f.get("train")
    if f.get("archive"):
        dest = folder / "uploads" / "extracted"
        out.log(f"extracting {f['archive']}")
        count = archives.extract(folder / f["archive"], dest, int(spec.get("max_extract_bytes",
                                                                           8 * 2**30)))
        out.log(f"extracted {count} files")
        train, roots = str(discover.find_tree_root(dest)), roots + [str(dest.resolve())]
    classes, skipped = discover.scan_folder(train, roots, "folder_train")
    labels, splits, dropped = discover.split_folder(
        classes, f["pct_val"], f["pct_test"], f["train_min"], f.get("train_max"), spec["seed"])
    for split in ("val", "test"):
        if f.get(split):
            entries, more_skipped, more_dropped = discover.folder_split(
                f[split], roots, labels, f"folder_{split}", f.get(f"{split}_min", 2),
                f.get(f"{split}_max"), spec["seed"])
            splits[split], skipped, dropped = entries, skipped + more_skipped, dropped + more_dropped
    return labels, splits, skipped, dropped


def plan_textfile(folder: Path, spec: dict) -> tuple[list[str], dict, list, list]:
    """Labels and splits for ``method=textfile``."""
    t, roots = spec["textfile"], list(spec["data_roots"])
    labels = discover.parse_labels(_read(folder, t["labels"]), "labels file")
    splits: dict[str, list[Entry]] = {s: [] for s in SPLITS}
    for split in SPLITS:
        if t.get(split):
            splits[split] = discover.parse_list(_read(folder, t[split]), f"{split} list",
                                                t.get(f"{split}_folder") or "", roots, len(labels))
    if t.get("shuffle", True):
        import random

        random.Random(spec["seed"]).shuffle(splits["train"])
    return labels, splits, [], []


def build_split(folder: Path, name: str, entries: list[Entry], spec: dict, labels: list[str],
                progress: Progress, distribution: dict) -> dict:
    """Process and store one split; returns its statistics (and the train mean sum)."""
    image = spec["image"]
    job = ImageJob(image["width"], image["height"], image["channels"], image["resize_mode"],
                   image["encoding"], spec["seed"], SPLITS.index(name), keep_array=name == "train")
    writer = LmdbWriter(folder / name)
    counts = distribution.setdefault(name, [0] * len(labels))
    stored_labels, stored_paths, hashes, skipped = [], [], {}, []
    images = ParallelImages(job, list(enumerate(entries)), spec["workers"], spec["parallel"])
    for done in images:
        if done.reason is not None:
            skipped.append({"path": done.entry.path, "reason": done.reason, "split": name})
        else:
            writer.put(pack(done.entry.label, done.shape, done.payload, image["encoding"]))
            counts[done.entry.label] += 1
            stored_labels.append(done.entry.label)
            stored_paths.append(done.entry.path)
            hashes.setdefault(done.digest, []).append(len(stored_paths) - 1)
        progress.tick(distribution)
    writer.close()
    np.save(folder / f"{name}_labels.npy", np.asarray(stored_labels, np.int32), allow_pickle=False)
    (folder / f"{name}.txt").write_text("".join(f"{p} {l}\n" for p, l in
                                                zip(stored_paths, stored_labels)))
    return {"entries": len(stored_labels), "counts": counts, "skipped": skipped,
            "hashes": hashes, "paths": stored_paths, "mean_sum": images.pixel_sum}


def save_mean(folder: Path, mean_sum: np.ndarray | None, count: int) -> None:
    """``mean.npy`` (float32) and a viewable ``mean.png``."""
    if mean_sum is None or count == 0:
        return
    from PIL import Image

    mean = (mean_sum.astype(np.float64) / count).astype(np.float32)
    np.save(folder / "mean.npy", mean, allow_pickle=False)
    Image.fromarray(np.clip(mean + 0.5, 0, 255).astype(np.uint8)).save(folder / "mean.png")


def disk_usage(folder: Path) -> int:
    """Bytes the split databases really occupy (LMDB files are sparse)."""
    total = 0
    for split in SPLITS:
        for file in (folder / split).glob("*.mdb"):
            total += file.stat().st_blocks * 512
    return total


def clear_outputs(folder: Path) -> None:
    """Remove what an earlier (aborted or interrupted) run left, so a resume rebuilds cleanly."""
    for split in SPLITS:
        shutil.rmtree(folder / split, ignore_errors=True)
        (folder / f"{split}_labels.npy").unlink(missing_ok=True)
    for name in ("meta.json", "mean.npy", "mean.png"):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / "uploads" / "extracted", ignore_errors=True)


def run(folder: Path, out: Emitter) -> dict:
    """Build the dataset in ``folder``; returns the summary also written to ``meta.json``."""
    spec = json.loads((folder / "spec.json").read_text())
    started = time.time()
    clear_outputs(folder)
    if spec["method"] == "folder":
        labels, splits, skipped, dropped = plan_folder(folder, spec, out)
    else:
        labels, splits, skipped, dropped = plan_textfile(folder, spec)
    (folder / "labels.txt").write_text("".join(f"{label}\n" for label in labels))
    planned = {s: len(e) for s, e in splits.items()}
    out.log(f"{len(labels)} classes; images: " + ", ".join(f"{s} {n}" for s, n in planned.items()))
    if dropped:
        out.log(f"dropped {len(dropped)} class(es): " + ", ".join(d["class"] for d in dropped))
    out.result(labels=labels, planned=planned, dropped=dropped)
    progress, distribution, stats = Progress(out, sum(planned.values())), {}, {}
    out.log(f"planned in {time.time() - started:.2f}s")
    for split in SPLITS:
        if splits[split]:
            t0 = time.time()
            stats[split] = build_split(folder, split, splits[split], spec, labels, progress,
                                       distribution)
            skipped += stats[split]["skipped"]
            took = time.time() - t0
            out.log(f"{split}: {stats[split]['entries']} images stored in {took:.2f}s "
                    f"({stats[split]['entries'] / max(took, 1e-9):.0f} images/s)")
    if not stats.get("train") or stats["train"]["entries"] == 0:
        raise DatasetInputError("no training image could be read (see the skipped list)")
    save_mean(folder, stats["train"]["mean_sum"], stats["train"]["entries"])
    if spec["method"] == "folder" and spec["folder"].get("archive"):
        archives.remove_tree(folder / "uploads" / "extracted")
    elapsed = time.time() - started
    stored = sum(s["entries"] for s in stats.values())
    meta = {
        "labels": labels, "image": spec["image"], "backend": "lmdb",
        "splits": {s: {"entries": st["entries"], "counts": st["counts"]} for s, st in stats.items()},
        "skipped": skipped, "dropped": dropped, "size_bytes": disk_usage(folder),
        "health": health_report(labels, stats), "elapsed": elapsed,
        "images_per_second": stored / elapsed if elapsed > 0 else None,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    out.result(distribution=distribution, splits=meta["splits"], skipped_count=len(skipped),
               size_bytes=meta["size_bytes"], images_per_second=meta["images_per_second"])
    return meta


def main(job_dir: str) -> int:
    """Entry point: exit 0 on success, 2 for bad input (with a message), 1 for a bug."""
    return run_worker(run, job_dir, (DatasetInputError,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
