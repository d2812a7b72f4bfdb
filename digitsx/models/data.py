"""Reading a digitsx dataset for training: LMDB splits as torch datasets, labels, mean."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

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


def loader(images: Dataset, batch_size: int, shuffle: bool, workers: int, seed: int,
           pin: bool, sampler=None, collate=None) -> DataLoader:
    """A DataLoader with ``workers`` processes (forked; each opens LMDB itself), seeded order
    (or a DistributedSampler's share under DDP), and the task's ``collate`` if it has one."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(images, batch_size=batch_size, shuffle=shuffle and sampler is None,
                      sampler=sampler, num_workers=workers, collate_fn=collate,
                      pin_memory=pin, drop_last=False, generator=gen,
                      persistent_workers=workers > 0,
                      multiprocessing_context="fork" if workers > 0 else None,
                      prefetch_factor=4 if workers > 0 else None)


def default_loader_workers() -> int:
    """Loader processes: every core but one for the training loop (at least 1, at most 8)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(8, cores - 1))
