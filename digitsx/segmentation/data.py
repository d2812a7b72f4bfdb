"""A segmentation dataset's LMDB splits as torch datasets: (uint8 C×H×W image, uint8 H×W map)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..datasets.folder import DatasetFolder
from ..datasets.lmdb_io import LmdbReader
from . import records


class SegmentationImages(Dataset):
    def __init__(self, path: Path, length: int) -> None:
        self.reader, self.length = LmdbReader(path), length

    def close(self) -> None:
        """Close the LMDB in this process (before loader processes fork; reopens on use)."""
        self.reader.close()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        image, label = records.decode(self.reader.raw(index))
        image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
        return torch.from_numpy(np.array(image, copy=True, order="C")), torch.from_numpy(np.array(label, copy=True))


class SegmentationData(DatasetFolder):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        image = self.meta["image"]
        self.channels, self.height, self.width = image["channels"], image["height"], image["width"]

    def split(self, name: str) -> SegmentationImages | None:
        return SegmentationImages(self.folder / name, self.entries(name)) if self.has_split(name) else None
