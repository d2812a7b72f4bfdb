"""Decode → resize → encode of one image, and an ordered parallel map over many."""
from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import re
import signal
import time
import warnings
from collections import deque
from dataclasses import dataclass
from functools import partial
from queue import Empty
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from .discover import Entry
from ..datasets.lmdb_io import encode_image
from ..datasets.resize import load_image, resize_to_pil

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
    keep_array: bool = False  # return the resized pixels (the training split's mean needs them)


@dataclass
class Processed:
    """One image after processing; ``reason`` is set (and the rest empty) when it was skipped.
    ``array`` is the resized image; it stays behind in a worker process (None here)."""

    index: int
    entry: Entry
    reason: str | None = None
    digest: str | None = None
    payload: bytes | None = None
    shape: tuple[int, ...] | None = None
    array: np.ndarray | None = None


def _plain(err: BaseException) -> str:
    """An exception's message without the in-memory file Pillow read from."""
    return re.sub(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "the file", str(err)) or type(err).__name__


def process_one(job: ImageJob, item: tuple[int, Entry]) -> Processed:
    """Read, hash, decode, resize and encode one image (or say why it was skipped)."""
    index, entry = item
    try:
        with open(entry.path, "rb") as f:
            data = f.read()
        image = load_image(io.BytesIO(data), job.channels)
    except FileNotFoundError:
        return Processed(index, entry, f"{os.path.basename(entry.path)}: file not found")
    except Image.DecompressionBombError as err:
        return Processed(index, entry, f"{os.path.basename(entry.path)}: image too large ({_plain(err)})")
    except UnidentifiedImageError:
        return Processed(index, entry, f"{os.path.basename(entry.path)}: not an image Pillow can read "
                                       f"({len(data):,} bytes: a broken, truncated or renamed file)")
    except (OSError, ValueError, SyntaxError) as err:  # Pillow's ways of saying "corrupt"
        return Processed(index, entry, f"{os.path.basename(entry.path)}: unreadable image ({_plain(err)})")
    # Exact duplicates: byte-identical files (hashing the file is ~10× cheaper than the pixels).
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    rng = np.random.default_rng([job.seed, job.split, index]) \
        if job.mode in ("fill", "half_crop") else None  # noise padding, reproducible
    resized = resize_to_pil(image, job.width, job.height, job.mode, job.channels, rng)
    shape = (job.height, job.width) + ((3,) if job.channels == 3 else ())
    array = np.asarray(resized) if job.keep_array else None  # for the mean image (train)
    return Processed(index, entry, None, digest, encode_image(resized, job.encoding), shape, array)


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class ParallelImages:
    """``process_one`` over many items on every core, yielded in input order.

    ``kind="threads"``: a thread pool (Pillow releases the GIL while decoding, resizing and
    encoding); results carry the resized array. ``kind="processes"``: forked workers each take
    every n-th item and accumulate their own pixel sum (for the mean image), so only the
    encoded bytes cross the pipe; results carry ``array=None`` and ``pixel_sum`` holds the total
    after iteration. ``bench/dataset_build.py`` measures both.
    """

    def __init__(self, job: ImageJob, items: list, workers: int | None = None,
                 kind: str = "threads") -> None:
        self.job, self.items, self.kind = job, items, kind
        self.workers = max(1, min(workers or default_workers(), len(items) or 1))
        self.pixel_sum: np.ndarray | None = None

    def __iter__(self) -> Iterator:
        if self.kind == "processes" and self.workers > 1:
            yield from self._processes()
            return
        for result in self._threads():
            if result.array is not None:
                if self.pixel_sum is None:
                    self.pixel_sum = np.zeros(result.shape, np.uint64)
                self.pixel_sum += result.array
            yield result

    def _threads(self) -> Iterator:
        call = partial(process_one, self.job)
        if self.workers <= 1:
            yield from map(call, self.items)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.workers) as pool:
            window: deque = deque()
            for item in self.items:
                window.append(pool.submit(call, item))
                if len(window) >= self.workers * 8:  # bounded: memory stays flat
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()

    def _processes(self) -> Iterator:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_worker, daemon=True, args=(
            self.job, self.items[k::self.workers], queue, k)) for k in range(self.workers)]
        for proc in procs:
            proc.start()
        pending: dict[int, tuple] = {}
        done: set[int] = set()
        position, ordered = 0, [i for i, _ in self.items]
        checked = time.monotonic()
        try:
            while len(done) < len(procs):
                if time.monotonic() - checked > 1.0:  # has a worker died (the OOM killer)?
                    _check_alive(procs, done, quiet=False)
                    checked = time.monotonic()
                try:
                    message = queue.get(timeout=1.0)
                except Empty:
                    _check_alive(procs, done, quiet=True)
                    continue
                if message[0] == "sum":
                    done.add(message[2])
                    if message[1] is not None:
                        self.pixel_sum = message[1] if self.pixel_sum is None \
                            else self.pixel_sum + message[1]
                    continue
                if message[0] == "crash":
                    raise RuntimeError(f"image worker failed: {message[1]}")
                pending[message[1].index] = message[1]
                while position < len(ordered) and ordered[position] in pending:
                    yield pending.pop(ordered[position])
                    position += 1
        finally:
            for proc in procs:
                proc.join(timeout=0 if len(done) < len(procs) else 5)
                if proc.is_alive():
                    proc.kill()
            queue.close()
            queue.cancel_join_thread()
        while position < len(ordered):
            yield pending.pop(ordered[position])
            position += 1


def _check_alive(procs: list, done: set[int], quiet: bool) -> None:
    """Raise naming a worker that died before sending its last message: one killed or failed
    at once; one that exited cleanly only once the queue is ``quiet`` (its last message may
    still be on the way)."""
    for k, proc in enumerate(procs):
        if k not in done and not proc.is_alive() and (proc.exitcode != 0 or quiet):
            code = proc.exitcode
            how = (f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0
                   else f"exited with code {code}")
            hint = " (out of memory?)" if code == -signal.SIGKILL else ""
            raise RuntimeError(f"an image worker (pid {proc.pid}) {how}{hint} before finishing "
                               f"its share; the dataset was not completed")


def _worker(job: ImageJob, items: list, queue, k: int) -> None:
    """A forked image worker: process its share, send results, then its pixel sum."""
    total = None
    try:
        for item in items:
            result = process_one(job, item)
            if result.array is not None:
                if total is None:
                    total = np.zeros(result.shape, np.uint64)
                total += result.array
            result.array = None  # only the encoded bytes cross the pipe
            queue.put(("item", result))
        queue.put(("sum", total, k))
    except BaseException as err:  # never leave the parent waiting forever
        queue.put(("crash", f"{type(err).__name__}: {err}"))
        queue.put(("sum", None, k))
