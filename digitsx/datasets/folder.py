"""A finished dataset's folder, read without torch: its meta, labels, image shape, splits and
mean. The web process (pages, forms, reports) and the workers read datasets through this one
class, so ``labels.txt`` and ``meta.json`` are parsed in one place."""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any


SPLITS = ("train", "val", "test")  # a dataset's splits, in order


class DatasetFolder:
    """``<jobs>/<dataset id>/`` of a dataset job. ``meta`` raises FileNotFoundError until the
    build has finished; :meth:`read_meta` answers None instead."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def read_meta(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.folder / "meta.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None

    @cached_property
    def meta(self) -> dict[str, Any]:
        meta = self.read_meta()
        if meta is None:
            raise FileNotFoundError(f"dataset {self.folder.name} has not finished building")
        return meta

    @cached_property
    def labels(self) -> list[str]:
        """Class names in label order ([] when there are none yet)."""
        meta = self.read_meta()
        if meta is not None and "labels" in meta:
            return list(meta["labels"])
        try:
            return (self.folder / "labels.txt").read_text().splitlines()
        except OSError:
            return []

    @property
    def image(self) -> dict[str, Any]:
        """``{channels, width, height, resize_mode, encoding}`` as built."""
        return dict(self.meta.get("image", {}))

    @property
    def encoding(self) -> str:
        """How the LMDB stores images: ``png``, ``jpg`` or ``none`` (raw)."""
        return str(self.image.get("encoding", "png"))

    def entries(self, split: str) -> int:
        """How many images ``split`` holds (0 when it has none or the build has not finished)."""
        meta = self.read_meta() or {}
        return int(meta.get("splits", {}).get(split, {}).get("entries", 0) or 0)

    def has_split(self, split: str) -> bool:
        return self.entries(split) > 0 and (self.folder / split / "data.mdb").exists()

    def mean_array(self):
        """The mean image as stored (H×W or H×W×C, 0–255), or None."""
        import numpy as np

        path = self.folder / "mean.npy"
        return np.load(path, allow_pickle=False) if path.exists() else None
