"""Reading a digitsx dataset for training: LMDB splits as torch datasets, labels, mean."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..datasets.folder import DatasetFolder
from ..datasets.lmdb_io import LmdbReader


class LmdbImages(Dataset):
    """A split as (uint8 C×H×W tensor, label); the LMDB opens in each DataLoader worker."""

    def __init__(self, path: Path) -> None:
        self.reader = LmdbReader(path)
        self.length = len(np.load(Path(str(path) + "_labels.npy"), allow_pickle=False)) \
            if Path(str(path) + "_labels.npy").exists() else len(self.reader)
        self.reader.close()  # reopened after fork, per worker process

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        array, label = self.reader[index]
        if array.ndim == 2:
            array = array[None]
        else:
            array = array.transpose(2, 0, 1)
        return torch.from_numpy(np.array(array, copy=True, order="C")), label  # decoded buffers are read-only


class DatasetInfo(DatasetFolder):
    """A finished dataset job's folder for the trainer: LMDB splits and the mean as tensors."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        image = self.meta["image"]
        self.channels, self.height, self.width = image["channels"], image["height"], image["width"]

    def split(self, name: str) -> LmdbImages | None:
        """The split's images, or None when the dataset has none."""
        return LmdbImages(self.folder / name) if self.has_split(name) else None

    def mean(self) -> torch.Tensor | None:
        """The mean image as float (C, H, W) in 0–255, or None."""
        mean = self.mean_array()
        if mean is None:
            return None
        mean = mean[None] if mean.ndim == 2 else mean.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(mean)).float()
