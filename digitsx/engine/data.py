"""Task-neutral data loading for the trainer: a seeded DataLoader over any map-style dataset."""
from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader, Dataset


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
