"""Task-neutral data loading for the trainer.

Two ways to feed a split:

- :func:`loader`: a seeded DataLoader with worker processes reading LMDB (the streaming path,
  for datasets larger than memory);
- :class:`MemoryLoader`: a split small enough to hold (see :func:`memory_budget`) is read
  **once**, on every core, and each epoch is cut into batches by index in the training process:
  no worker processes, no per-item Python, no per-epoch re-reading. Images of one shape with
  integer labels are stacked into one tensor (on the GPU when training there and it fits), so
  a batch is a single ``index_select``.

Both expose what the trainer uses: ``len()``, iteration, a ``generator`` (its state goes into
snapshots, so a resumed job draws the same order), and a DistributedSampler under DDP.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data._utils.collate import default_collate


def lone_last(count: int, batch_size: int) -> bool:
    """Would the last batch hold one image (of more than one)? Batch norm cannot train on it
    ("Expected more than 1 value per channel when training"): training leaves it out."""
    return count > 1 and batch_size > 1 and count % batch_size == 1


def loader(images: Dataset, batch_size: int, shuffle: bool, workers: int, seed: int,
           pin: bool, sampler=None, collate=None, training: bool = False) -> DataLoader:
    """A DataLoader with ``workers`` processes (forked; each opens LMDB itself), seeded order
    (or a DistributedSampler's share under DDP), and the task's ``collate`` if it has one. In
    ``training`` a last batch of one image is dropped (:func:`lone_last`)."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    count = len(sampler) if sampler is not None else len(images)
    return DataLoader(images, batch_size=batch_size, shuffle=shuffle and sampler is None,
                      sampler=sampler, num_workers=workers, collate_fn=collate, pin_memory=pin,
                      drop_last=training and lone_last(count, batch_size), generator=gen,
                      persistent_workers=workers > 0,
                      multiprocessing_context="fork" if workers > 0 else None,
                      prefetch_factor=4 if workers > 0 else None)


def collate_encoded(batch):
    """A batch of (encoded image, target): the images stay a list (their lengths differ), the
    targets collate as usual."""
    return [item[0] for item in batch], default_collate([item[1] for item in batch])


def decode_jpegs(images: list, channels: int, device: torch.device) -> list[torch.Tensor]:
    """A batch's images on ``device`` as uint8 C×H×W: the JPEG byte tensors (1-D uint8) among
    them decoded there in one batched call (nvJPEG on CUDA), the others (records stored another
    way, decoded by the loader) moved as they are."""
    encoded = [i for i, t in enumerate(images) if t.dim() == 1]
    out = list(images)
    if encoded:
        from torchvision.io import ImageReadMode, decode_jpeg

        mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
        for i, tensor in zip(encoded, decode_jpeg([images[i] for i in encoded], mode=mode, device=device)):
            out[i] = tensor
    return [t.to(device, non_blocking=True) for t in out]


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a container's or a reservation's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_loader_workers(processes: int = 1) -> int:
    """Loader processes for one of ``processes`` training processes on this node: its share of
    the usable cores, less one for the training loop itself (at least 1; no fixed cap)."""
    return max(1, usable_cores() // max(1, processes) - 1)


def memory_budget() -> int:
    """Bytes a job may hold decoded in memory: ``DIGITSX_IN_MEMORY_MB`` when set (0 turns the
    in-memory path off), else a quarter of the available memory, at most 8 GiB."""
    raw = os.environ.get("DIGITSX_IN_MEMORY_MB")
    if raw not in (None, ""):
        return max(0, int(float(raw) * 2**20))
    try:
        import psutil

        available = psutil.virtual_memory().available
    except Exception:  # noqa: BLE001 - no psutil: be modest
        available = 2 * 2**30
    return min(8 * 2**30, available // 4)


def item_bytes(item: Any) -> int:
    """The bytes of the tensors and arrays in one dataset item (nested tuples, lists, dicts)."""
    if isinstance(item, torch.Tensor):
        return item.element_size() * item.nelement()
    if hasattr(item, "nbytes"):
        return int(item.nbytes)
    if isinstance(item, dict):
        return sum(item_bytes(v) for v in item.values())
    if isinstance(item, (tuple, list)):
        return sum(item_bytes(v) for v in item)
    return 8


def decoded_size(images: Dataset) -> int:
    """Estimated bytes of a whole split decoded: its first item × its length."""
    n = len(images)  # type: ignore[arg-type]
    return item_bytes(images[0]) * n if n else 0


def read_all(images: Dataset, threads: int) -> list:
    """Every item of ``images``, read with ``threads`` threads (LMDB reads and image decoding
    release the GIL), in index order."""
    n = len(images)  # type: ignore[arg-type]
    if threads <= 1 or n < 256:
        return [images[i] for i in range(n)]
    chunk = math.ceil(n / (threads * 4))

    def part(start: int) -> list:
        return [images[i] for i in range(start, min(n, start + chunk))]

    with ThreadPoolExecutor(threads) as pool:
        return [item for items in pool.map(part, range(0, n, chunk)) for item in items]


class MemoryLoader:
    """A split read once into memory, then served in seeded batches by index."""

    def __init__(self, images: Dataset, batch_size: int, shuffle: bool, seed: int, *,
                 sampler=None, collate: Callable | None = None, threads: int = 1,
                 device: torch.device | None = None, device_budget: int = 0,
                 training: bool = False) -> None:
        self.batch_size, self.shuffle, self.sampler = batch_size, shuffle, sampler
        self.training = training  # a last batch of one image is left out (lone_last)
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        self.started = False
        self.items = read_all(images, threads)
        self.n = len(self.items)
        self.collate = collate
        self.stacked: tuple[torch.Tensor, torch.Tensor] | None = None
        self.location = "host"
        if collate is None and self._stackable():
            pixels = torch.stack([item[0] for item in self.items])
            labels = torch.tensor([int(item[1]) for item in self.items], dtype=torch.long)
            if device is not None and device.type == "cuda" and \
                    item_bytes(pixels) + item_bytes(labels) <= device_budget:
                pixels, labels = pixels.to(device), labels.to(device)  # batches never leave the GPU
                self.location = str(device)
            self.stacked = (pixels, labels)
            self.items = []  # the stacked copy is the one kept
        self.bytes = item_bytes(self.stacked) if self.stacked is not None else item_bytes(self.items)

    def _stackable(self) -> bool:
        """Items ``(tensor, int)`` of one shape: default_collate would stack them."""
        if not self.items:
            return False
        first = self.items[0]
        if not (isinstance(first, tuple) and len(first) == 2 and isinstance(first[0], torch.Tensor)
                and isinstance(first[1], int)):
            return False
        shape = first[0].shape
        return all(item[0].shape == shape for item in self.items)

    def __len__(self) -> int:
        count = len(self.sampler) if self.sampler is not None else self.n
        if self.training and lone_last(count, self.batch_size):
            return count // self.batch_size
        return max(1, math.ceil(count / self.batch_size)) if count else 0

    def _batches(self, order: torch.Tensor) -> list[torch.Tensor]:
        parts = list(order.split(self.batch_size))
        if self.training and lone_last(len(order), self.batch_size):
            parts.pop()
        return parts

    def order(self) -> torch.Tensor:
        """This epoch's indices: the sampler's share, a seeded permutation, or 0..n-1."""
        if self.sampler is not None:
            return torch.tensor(list(iter(self.sampler)), dtype=torch.long)
        if self.shuffle:  # the first epoch in the order a DataLoader draws from this seed:
            if not self.started:  # its first iterator takes its workers' base seed first
                torch.empty((), dtype=torch.int64).random_(generator=self.generator)
                self.started = True
            return torch.randperm(self.n, generator=self.generator)
        return torch.arange(self.n)

    def __iter__(self) -> Iterator:
        order = self.order()
        if self.stacked is not None:
            pixels, labels = self.stacked
            order = order.to(pixels.device)
            for idx in self._batches(order):
                yield pixels.index_select(0, idx), labels.index_select(0, idx)
            return
        collate = self.collate or default_collate
        for idx in self._batches(order):
            yield collate([self.items[i] for i in idx.tolist()])
