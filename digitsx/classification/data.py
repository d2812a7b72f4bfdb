"""Reading a digitsx dataset for training: LMDB splits as torch datasets, labels, mean."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..datasets.folder import DatasetFolder
from ..engine.data import decode_jpegs
from ..datasets.lmdb_io import LmdbReader, decode, unpack


class LmdbImages(Dataset):
    """A split as (uint8 C×H×W tensor, label); the LMDB opens in each DataLoader worker."""

    def __init__(self, path: Path) -> None:
        self.reader = LmdbReader(path)
        self.length = len(np.load(Path(str(path) + "_labels.npy"), allow_pickle=False)) \
            if Path(str(path) + "_labels.npy").exists() else len(self.reader)
        self.reader.close()  # reopened after fork, per worker process

    def close(self) -> None:
        """Close the LMDB in this process (before loader processes fork; reopens on use)."""
        self.reader.close()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        array, label = self.reader[index]
        if array.ndim == 2:
            array = array[None]
        else:
            array = array.transpose(2, 0, 1)
        return torch.from_numpy(np.array(array, copy=True, order="C")), label  # decoded buffers are read-only


class LmdbEncoded(LmdbImages):
    """A JPEG split as (the record's encoded bytes as a uint8 tensor, label): loader processes
    only read LMDB; the training process decodes whole batches on the GPU (nvJPEG)."""

    encoded = True

    def __getitem__(self, index: int):
        label, info, payload = unpack(self.reader.raw(index))
        if info["encoding"] != "jpg":  # a mixed dataset: decode this one here
            array, label = decode(self.reader.raw(index))
            return torch.from_numpy(np.array(array, copy=True, order="C")), label
        return torch.frombuffer(bytearray(payload), dtype=torch.uint8), label


def decode_batch(images: list, channels: int, device) -> torch.Tensor:
    """A list of JPEG byte tensors (or already decoded C×H×W tensors) → uint8 (N,C,H,W) on
    ``device``, decoded there in one batched call (nvJPEG on CUDA)."""
    return torch.stack(decode_jpegs(images, channels, device))


class DatasetInfo(DatasetFolder):
    """A finished dataset job's folder for the trainer: LMDB splits and the mean as tensors."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        image = self.meta["image"]
        self.channels, self.height, self.width = image["channels"], image["height"], image["width"]

    def split(self, name: str, encoded: bool = False) -> LmdbImages | None:
        """The split's images (``encoded``: JPEG records as bytes), or None when there are none."""
        if not self.has_split(name):
            return None
        return (LmdbEncoded if encoded else LmdbImages)(self.folder / name)

    def mean(self) -> torch.Tensor | None:
        """The mean image as float (C, H, W) in 0–255, or None."""
        mean = self.mean_array()
        if mean is None:
            return None
        mean = mean[None] if mean.ndim == 2 else mean.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(mean)).float()
