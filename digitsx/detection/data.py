"""A detection dataset's LMDB splits as torch datasets: (uint8 C×H×W image, boxes (n, 6))."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..datasets.folder import DatasetFolder
from ..datasets.lmdb_io import LmdbReader
from . import records


class DetectionImages(Dataset):
    def __init__(self, path: Path, length: int) -> None:
        self.reader, self.length = LmdbReader(path), length

    def close(self) -> None:
        """Close the LMDB in this process (before loader processes fork; reopens on use)."""
        self.reader.close()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        array, boxes = records.decode(self.reader.raw(index))
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(np.array(array, copy=True, order="C")), torch.from_numpy(boxes.copy())


def collate(batch):
    """Detection batches are lists: images may differ in size, boxes in count."""
    return [b[0] for b in batch], [b[1] for b in batch]


class DetectionData(DatasetFolder):
    """A finished detection dataset for the trainer."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        image = self.meta["image"]
        self.channels, self.height, self.width = image["channels"], image["height"], image["width"]

    def split(self, name: str) -> DetectionImages | None:
        return DetectionImages(self.folder / name, self.entries(name)) if self.has_split(name) else None
