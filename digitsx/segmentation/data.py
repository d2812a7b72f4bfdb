"""A segmentation dataset's LMDB splits as torch datasets: (uint8 C×H×W image, uint8 H×W map)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..datasets.folder import DatasetFolder
from ..datasets import lmdb_io
from ..datasets.lmdb_io import LmdbReader
from . import records


class SegmentationImages(Dataset):
    """``encoded``: JPEG images come as their bytes (a 1-D uint8 tensor), for the training
    process to decode a whole batch on the GPU; the class maps (PNG) are decoded here."""

    def __init__(self, path: Path, length: int, encoded: bool = False) -> None:
        self.reader, self.length, self.encoded = LmdbReader(path), length, encoded

    def close(self) -> None:
        """Close the LMDB in this process (before loader processes fork; reopens on use)."""
        self.reader.close()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        value = self.reader.raw(index)
        if self.encoded:
            jpeg = lmdb_io.jpeg_payload(records.split(value)[0])
            if jpeg is not None:
                return torch.frombuffer(bytearray(jpeg), dtype=torch.uint8), \
                    torch.from_numpy(np.array(records.label(value), copy=True))
        image, label = records.decode(value)
        image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
        return torch.from_numpy(np.array(image, copy=True, order="C")), torch.from_numpy(np.array(label, copy=True))


class SegmentationData(DatasetFolder):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        image = self.meta["image"]
        self.channels, self.height, self.width = image["channels"], image["height"], image["width"]

    def split(self, name: str) -> SegmentationImages | None:
        return SegmentationImages(self.folder / name, self.entries(name)) if self.has_split(name) else None
