"""A detection dataset's LMDB splits as torch datasets: (uint8 C×H×W image, boxes (n, 6))."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..datasets.folder import DatasetFolder
from ..datasets import lmdb_io
from ..datasets.lmdb_io import LmdbReader
from . import records


class DetectionImages(Dataset):
    """``encoded``: JPEG images come as their bytes (a 1-D uint8 tensor), for the training
    process to decode a whole batch on the GPU (:func:`digitsx.engine.data.decode_jpegs`)."""

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
            boxes, image = records.split(value)
            jpeg = lmdb_io.jpeg_payload(image)
            if jpeg is not None:
                return torch.frombuffer(bytearray(jpeg), dtype=torch.uint8), torch.from_numpy(boxes.copy())
        array, boxes = records.decode(value)
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
