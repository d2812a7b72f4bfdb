"""Worker: classify many images with one model snapshot, as a job with progress.

    python -m digitsx.classification.infer_many JOB_DIR

The spec names the model folder and snapshot epoch, and one source of images:

- ``list``: ``inputs/images.tsv``, ``path<TAB>label`` lines written by the web process (label
  -1 when the list gave none);
- ``archive``: an uploaded archive of images, unpacked into ``scratch/`` (gone when the job
  ends, however it ends: the runner removes ``scratch/`` too); an image's label is its top
  folder when that folder names one of the model's classes, and what stays for the report is a
  thumbnail per image in ``results/thumbs/``;
- ``split``: the ``val`` or ``test`` LMDB of the model's dataset (labels from the records).

Images are preprocessed exactly as for training (the dataset's channels, resize mode and size,
then its mean), decoded in DataLoader processes and classified in batches. Outputs in
``results/``: ``images.tsv`` (path, label), ``probs.npy`` (N × classes, float32), ``ok.npy``,
``errors.json`` ({index: reason}) and ``report.json`` (top-1/top-5 accuracy, per-class accuracy,
confusion matrix). The web process reads them for the report, the CSV and the top-N grid.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .. import archives
from ..files import is_image
from .discover import label_name
from ..jobs.protocol import Emitter, run_worker
from .augment import prepare
from .data import LmdbImages
from .infer import Classifier, as_stored
from .task import MAX_CONFUSION  # as in training's validation

TOP = 5
MAX_ARCHIVE_BYTES = 16 * 2**30
THUMB = 256  # pixels, the longer side of the thumbnails kept of an archive's images


class ImageFiles(Dataset):
    """Image files in batches, as the dataset stored them: item ``b`` is ``(uint8 N×C×H×W,
    indexes, reasons)`` for batch ``b``. An unreadable file gives a blank image and its reason,
    so one bad file never stops the job. Whole batches per DataLoader worker: no per-image
    collation."""

    def __init__(self, paths: list[str], image: dict, batch: int, thumbs: Path | None = None) -> None:
        self.paths, self.image, self.batch, self.thumbs = paths, image, batch, thumbs

    def __len__(self) -> int:
        return -(-len(self.paths) // self.batch)

    def __getitem__(self, b: int):
        indexes = range(b * self.batch, min(len(self.paths), (b + 1) * self.batch))
        out = torch.zeros((len(indexes), self.image["channels"], self.image["height"],
                           self.image["width"]), dtype=torch.uint8)
        reasons = []
        for row, index in enumerate(indexes):
            try:
                out[row] = as_stored(self.paths[index], self.image)
                if self.thumbs is not None:
                    thumbnail(self.paths[index], self.thumbs / f"{index}.jpg")
                reasons.append("")
            except Exception as err:  # noqa: BLE001 - any decoding failure is this image's problem
                reasons.append("not found" if isinstance(err, FileNotFoundError)
                               else f"not a readable image: {err}")
        return out, torch.arange(indexes.start, indexes.stop), reasons


def thumbnail(path: str, dest: Path) -> None:
    """A JPEG at most THUMB pixels on a side: what the report shows once the input is gone."""
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (THUMB, THUMB))
        im.thumbnail((THUMB, THUMB))
        im.convert("RGB").save(dest, "JPEG", quality=88)


class SplitImages(Dataset):
    """A dataset split's records in batches: ``(uint8 N×C×H×W, indexes, reasons)``."""

    def __init__(self, split: LmdbImages, batch: int) -> None:
        self.split, self.batch = split, batch

    def __len__(self) -> int:
        return -(-len(self.split) // self.batch)

    def __getitem__(self, b: int):
        indexes = range(b * self.batch, min(len(self.split), (b + 1) * self.batch))
        images = torch.stack([self.split[i][0] for i in indexes])
        return images, torch.arange(indexes.start, indexes.stop), [""] * len(indexes)


def loader_workers() -> int:
    """DataLoader processes: one per core (at most 8)."""
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:
        return max(1, min(8, os.cpu_count() or 1))


def read_list(path: Path) -> tuple[list[str], list[int]]:
    """``path<TAB>label`` lines → paths and labels (-1 where none)."""
    paths, labels = [], []
    for line in path.read_text().splitlines():
        if line:
            name, _, label = line.rpartition("\t")
            paths.append(name)
            labels.append(int(label))
    return paths, labels


def archive_images(folder: Path, archive: Path, labels: list[str]) -> tuple[list[str], list[int]]:
    """Unpack an uploaded archive into ``scratch/``; every image in it, sorted, labelled by its
    top folder when that folder names a class (``_`` read as a space, case ignored)."""
    dest = folder / "scratch" / "archive"
    archives.extract(archive, dest, MAX_ARCHIVE_BYTES)
    archive.unlink(missing_ok=True)
    root = dest
    while True:  # a single wrapping folder (``images/...``) is not a class
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir() and label_name(entries[0].name).lower() not in \
                {name.lower() for name in labels}:
            root = entries[0]
            continue
        break
    by_name = {name.lower(): i for i, name in enumerate(labels)}
    paths, found = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and is_image(p.name)):
        rel = path.relative_to(root)
        top = label_name(rel.parts[0]).lower() if len(rel.parts) > 1 else ""
        paths.append(str(path))
        found.append(by_name.get(top, -1))
    if not paths:
        raise ValueError("the archive holds no image files (.jpg, .png, .bmp, .gif, .tif, .webp...)")
    return paths, found


def report(probs: np.ndarray, labels: np.ndarray, ok: np.ndarray, names: list[str]) -> dict:
    """Accuracy figures of the classified images whose label is known."""
    classes = len(names)
    known = ok & (labels >= 0)
    out = {"images": int(len(labels)), "classified": int(ok.sum()), "errors": int((~ok).sum()),
           "labelled": int(known.sum()), "labels": names}
    if not known.any():
        return out
    p, y = probs[known], labels[known]
    top = np.argsort(-p, axis=1, kind="stable")[:, :min(TOP, classes)]
    hit1 = top[:, 0] == y
    hit5 = (top == y[:, None]).any(1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y, top[:, 0]), 1)
    per_class = []
    for c in range(classes):
        mine = y == c
        n = int(mine.sum())
        per_class.append({"label": names[c], "images": n,
                          "top1": round(100 * float(hit1[mine].mean()), 2) if n else None,
                          "top5": round(100 * float(hit5[mine].mean()), 2) if n else None})
    out.update(top1=round(100 * float(hit1.mean()), 2), top5=round(100 * float(hit5.mean()), 2),
               per_class=per_class, confusion=confusion.tolist() if classes <= MAX_CONFUSION else None)
    return out


def run(folder: Path, out: Emitter) -> dict:
    spec = json.loads((folder / "spec.json").read_text())
    epoch = spec.get("epoch")
    classifier = Classifier(Path(spec["model"]["dir"]), float(epoch) if epoch not in (None, "") else None)
    names = classifier.info.labels
    results = folder / "results"
    results.mkdir(exist_ok=True)
    source = spec["source"]
    images, paths, labels = _inputs(folder, spec, classifier, results)
    scratch = str(folder / "scratch" / "archive") + os.sep  # shown as the archive's own names
    shown = [p[len(scratch):] if p.startswith(scratch) else p for p in paths]
    (results / "images.tsv").write_text("".join(f"{p}\t{int(y)}\n" for p, y in zip(shown, labels)))
    total = len(paths)
    out.result(images=total, source=source, epoch=classifier.epoch, labels=names)
    out.progress(0, total)
    probs, ok, errors, started = _classify_all(images, classifier, results, total, len(names), out)
    probs.flush()
    np.save(results / "ok.npy", ok, allow_pickle=False)
    (results / "errors.json").write_text(json.dumps(errors))
    summary = report(np.asarray(probs), labels, ok, names)
    summary.update(epoch=classifier.epoch, source=source, seconds=round(time.time() - started, 3),
                   images_per_second=round(total / max(time.time() - started, 1e-9), 1))
    (results / "report.json").write_text(json.dumps(summary))
    brief = {k: summary.get(k) for k in ("images", "classified", "errors", "labelled", "top1", "top5",
                                         "seconds", "images_per_second")}
    out.result(**brief)
    return summary


def _inputs(folder: Path, spec: dict, classifier: Classifier, results: Path):
    """(the images as a Dataset of batches, their paths, their labels or -1) from the source:
    the dataset's split, an uploaded archive (with thumbnails) or a list."""
    cuda = classifier.device.type == "cuda"
    names = classifier.info.labels
    source = spec["source"]
    largest = int(spec.get("batch_size") or (256 if cuda else 64))
    batch = lambda n: min(largest, max(1, -(-n // 20)))  # noqa: E731 (20+ batches: progress every 5 %)
    if source == "split":
        split = classifier.info.split(spec["split"])
        if split is None:
            raise ValueError(f"the dataset has no {spec['split']} images")
        images: Dataset = SplitImages(split, batch(len(split)))
        paths = [f"{spec['split']}/{i}" for i in range(len(split))]
        labels = np.load(Path(str(split.reader.path) + "_labels.npy"), allow_pickle=False).astype(np.int64) \
            if Path(str(split.reader.path) + "_labels.npy").exists() \
            else np.array([split.reader[i][1] for i in range(len(split))], dtype=np.int64)
    else:
        if source == "archive":
            paths, found = archive_images(folder, folder / spec["archive"], names)
        else:
            paths, found = read_list(folder / spec["list"])
        limit = spec.get("limit")
        if limit:
            paths, found = paths[:limit], found[:limit]
        thumbs = None
        if source == "archive":
            thumbs = results / "thumbs"
            thumbs.mkdir(exist_ok=True)
        images = ImageFiles(paths, classifier.image, batch(len(paths)), thumbs)
        labels = np.asarray(found, dtype=np.int64)
    return images, paths, labels


def _classify_all(images: Dataset, classifier: Classifier, results: Path, total: int, classes: int,
                  out: Emitter):
    """Every batch through the model: (probabilities memmap, ok flags, errors by index, start)."""
    cuda = classifier.device.type == "cuda"
    # Decoding is the work here (the forward pass is batched and short): every core decodes.
    workers = min(loader_workers(), max(1, len(images)))
    data = DataLoader(images, batch_size=None, shuffle=False, num_workers=workers, pin_memory=cuda,
                      multiprocessing_context="fork", prefetch_factor=4)
    probs = np.lib.format.open_memmap(results / "probs.npy", mode="w+", dtype=np.float32,
                                      shape=(total, classes))
    ok = np.zeros(total, dtype=bool)
    errors: dict[str, str] = {}
    done, last, last_step, started = 0, 0.0, 0, time.time()
    with torch.inference_mode():
        for x, index, reason in data:
            x = prepare(x.to(classifier.device, non_blocking=True), classifier.mean, classifier.aug,
                        training=False)
            p = torch.softmax(classifier.model(x).float(), 1).cpu().numpy()
            index = index.numpy()
            probs[index] = p
            for i, r in zip(index, reason):
                if r:
                    errors[str(int(i))] = r
                else:
                    ok[i] = True
            done += len(index)
            step = 10 * done // total  # at least every 10%, and twice a second
            if time.time() - last > 0.5 or step > last_step or done == total:
                last, last_step = time.time(), step
                out.progress(done, total)
    return probs, ok, errors, started


def main(job_dir: str) -> int:
    """Entry point: 0 when done, 2 for unusable input (named), 1 for a bug."""
    return run_worker(run, job_dir, (ValueError, FileNotFoundError, KeyError), scratch=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
