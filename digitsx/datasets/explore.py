"""Explore: pages of stored images per split, filtered by class, read straight from LMDB."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import BadRequest, NotFound
from .folder import SPLITS
from .folder import DatasetFolder
from .lmdb_io import LmdbReader, decode, unpack

PAGE_SIZES = (10, 25, 50, 100)
MIMETYPES = {"png": "image/png", "jpg": "image/jpeg"}


def _int(args: Mapping, name: str, default: int) -> int:
    try:
        return int(args.get(name, default))
    except (TypeError, ValueError):
        raise BadRequest(f"{name}: expected an integer, got {args.get(name)!r}") from None


def page_args(args: Mapping, splits: tuple[str, ...] = ("train", "val")) -> tuple[str, int, int]:
    """Explore's ``split``, ``page`` and ``size`` (at most 100), checked: a 400 names the field."""
    split = args.get("split", splits[0])
    if split not in splits:
        raise BadRequest(f"split: must be one of {', '.join(splits)}, got {split!r}")
    return split, max(0, _int(args, "page", 0)), min(100, max(1, _int(args, "size", 24)))


def gallery(job, folder: Path, args: Mapping) -> dict[str, Any]:
    """``{db, page, size, label, total, pages, labels, items: [{index, label, name, url}]}``."""
    split = args.get("db", "train")
    if split not in SPLITS:
        raise BadRequest(f"db: must be one of {', '.join(SPLITS)}, got {split!r}")
    size = _int(args, "size", 25)
    if size not in PAGE_SIZES:
        raise BadRequest(f"size: must be one of {', '.join(map(str, PAGE_SIZES))}")
    page = max(0, _int(args, "page", 0))
    labels_file = folder / f"{split}_labels.npy"
    if not labels_file.exists():
        raise NotFound(f"{job.name} has no {split} images (yet)")
    labels = np.load(labels_file, allow_pickle=False)
    names = DatasetFolder(folder).labels
    label = args.get("label")
    indexes = np.arange(len(labels)) if label in (None, "", "all") else \
        np.flatnonzero(labels == _int(args, "label", -1))
    total = int(len(indexes))
    chosen = indexes[page * size:(page + 1) * size]
    items = [{"index": int(i), "label": int(labels[i]), "name": names[int(labels[i])],
              "url": f"/datasets/{job.id}/images/{split}/{int(i)}"} for i in chosen]
    return {"db": split, "page": page, "size": size, "label": label, "total": total,
            "pages": max(1, -(-total // size)), "labels": names, "items": items,
            "splits": [s for s in SPLITS if (folder / f"{s}_labels.npy").exists()]}


def read_image(folder: Path, split: str, index: int) -> tuple[bytes, str]:
    """A stored image's bytes and MIME type (raw pixels are encoded as PNG on the fly)."""
    if split not in SPLITS or not (folder / split / "data.mdb").exists():
        raise NotFound(f"no {split} database in this dataset")
    reader = LmdbReader(folder / split)
    try:
        value = reader.raw(index)
    except IndexError:
        raise NotFound(f"no image {index} in {split}") from None
    finally:
        reader.close()
    _, info, payload = unpack(value)
    if info["encoding"] in MIMETYPES:
        return payload, MIMETYPES[info["encoding"]]
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(decode(value)[0]).save(buf, format="PNG")
    return buf.getvalue(), "image/png"
