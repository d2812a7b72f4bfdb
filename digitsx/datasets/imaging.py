"""Decode → resize → encode of one image, and an ordered parallel map over many."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import warnings
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable, Iterator

import numpy as np
from PIL import Image

from .discover import Entry
from .lmdb_io import encode_image
from .resize import load_image, resize_image

warnings.simplefilter("ignore", Image.DecompressionBombWarning)


@dataclass(frozen=True)
class ImageJob:
    """How every image of a split is processed."""

    width: int
    height: int
    channels: int
    mode: str
    encoding: str
    seed: int = 0
    split: int = 0


def process_one(job: ImageJob, item: tuple[int, Entry]):
    """``(index, entry, array, reason, digest, payload)``; ``reason`` is set when skipped."""
    index, entry = item
    try:
        image = load_image(entry.path, job.channels)
    except FileNotFoundError:
        return index, entry, None, "file not found", None, None
    except Image.DecompressionBombError as err:
        return index, entry, None, f"image too large ({err})", None, None
    except (OSError, ValueError, SyntaxError) as err:  # Pillow's ways of saying "corrupt"
        return index, entry, None, f"unreadable image: {err}", None, None
    # Exact duplicates: the same decoded pixels, whatever the file name or format.
    digest = hashlib.blake2b(image.tobytes(), digest_size=16,
                             person=f"{image.size[0]}x{image.size[1]}".encode()[:16]).hexdigest()
    rng = np.random.default_rng([job.seed, job.split, index])  # fill noise, reproducible
    array = resize_image(image, job.width, job.height, job.mode, job.channels, rng)
    return index, entry, array, None, digest, encode_image(array, job.encoding)


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parallel_map(fn: Callable, job: ImageJob, items: Iterable, workers: int | None = None,
                 kind: str = "threads") -> Iterator:
    """``fn(job, item)`` for every item, on ``workers`` threads or processes, in input order."""
    workers = workers or default_workers()
    call = partial(fn, job)
    if workers <= 1:
        yield from map(call, items)
    elif kind == "processes":
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(call, items, chunksize=16)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            window: deque = deque()
            for item in items:
                window.append(pool.submit(call, item))
                if len(window) >= workers * 8:  # bounded: memory stays flat on huge splits
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
