"""LMDB storage of images: one writer with large batched transactions and map growth, and
a reader that opens lazily (so each DataLoader worker opens its own environment after fork).

A record is ``key = b"%08d" % index`` → ``header + payload``; the header is
``b"DX1" | encoding (1 byte) | label (int32) | height, width, channels (uint16 each)``,
little-endian. The payload is PNG or JPEG bytes, or raw ``H×W×C`` uint8 pixels.
"""
from __future__ import annotations

import io
import os
import struct
import threading
from pathlib import Path
from typing import Iterator

import lmdb
import numpy as np
from PIL import Image

MAGIC = b"DX1"
HEADER = struct.Struct("<3sBiHHH")
ENCODINGS = {"none": 0, "png": 1, "jpg": 2}
ENCODING_NAMES = {v: k for k, v in ENCODINGS.items()}
JPEG_QUALITY = 90


def encode_image(image: np.ndarray | Image.Image, encoding: str) -> bytes:
    """Encode a uint8 ``H×W`` / ``H×W×3`` array or an L/RGB image as png, jpg (quality 90) or
    raw ``H×W×C`` bytes."""
    if encoding == "none":
        return image.tobytes() if isinstance(image, Image.Image) \
            else np.ascontiguousarray(image).tobytes()
    buf = io.BytesIO()
    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    if encoding == "png":
        image.save(buf, format="PNG", compress_level=1)  # fast; still lossless
    elif encoding == "jpg":
        image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        raise ValueError(f"encoding must be png, jpg or none, not {encoding!r}")
    return buf.getvalue()


def pack(label: int, shape: tuple[int, ...], payload: bytes, encoding: str) -> bytes:
    """A record: header + payload; ``shape`` is ``(H, W)`` or ``(H, W, C)``."""
    h, w = shape[:2]
    c = 1 if len(shape) == 2 else shape[2]
    return HEADER.pack(MAGIC, ENCODINGS[encoding], int(label), h, w, c) + payload


def unpack(value: bytes) -> tuple[int, dict, bytes]:
    """``(label, {encoding, height, width, channels}, payload)`` of a record."""
    magic, enc, label, h, w, c = HEADER.unpack_from(value)
    if magic != MAGIC:
        raise ValueError("not a digitsx image record")
    return label, {"encoding": ENCODING_NAMES[enc], "height": h, "width": w, "channels": c}, \
        value[HEADER.size:]


def decode(value: bytes) -> tuple[np.ndarray, int]:
    """``(uint8 array H×W or H×W×3, label)`` of a record."""
    label, info, payload = unpack(value)
    if info["encoding"] == "none":
        shape = (info["height"], info["width"]) + ((info["channels"],) if info["channels"] > 1 else ())
        return np.frombuffer(payload, np.uint8).reshape(shape), label
    return np.asarray(Image.open(io.BytesIO(payload))), label


def image_file(value: bytes) -> tuple[bytes, str]:
    """A record's image as a file: (PNG or JPEG bytes, ``png`` | ``jpg``); raw pixels are
    encoded as PNG."""
    _, info, payload = unpack(value)
    if info["encoding"] != "none":
        return payload, info["encoding"]
    shape = (info["height"], info["width"]) + ((info["channels"],) if info["channels"] > 1 else ())
    buf = io.BytesIO()
    Image.fromarray(np.frombuffer(payload, np.uint8).reshape(shape)).save(buf, format="PNG")
    return buf.getvalue(), "png"


def jpeg_payload(value: bytes) -> bytes | None:
    """A JPEG record's encoded image (to decode elsewhere: a batch on the GPU), else None."""
    _, info, payload = unpack(value)
    return payload if info["encoding"] == "jpg" else None


def key(index: int) -> bytes:
    """The LMDB key of entry ``index``."""
    return b"%08d" % index


class LmdbWriter:
    """Appends records in order; commits every ``batch_bytes``; doubles the map when full."""

    def __init__(self, path: Path, batch_bytes: int = 64 * 2**20,
                 map_size: int = 256 * 2**20) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(path), map_size=map_size, subdir=True, lock=True,
                             writemap=False, meminit=False, map_async=True)
        self.batch_bytes = batch_bytes
        self.pending: list[tuple[bytes, bytes]] = []
        self.pending_bytes = 0
        self.count = 0

    def put(self, value: bytes) -> int:
        """Queue the next record; returns its index."""
        index = self.count
        self.pending.append((key(index), value))
        self.pending_bytes += len(value)
        self.count += 1
        if self.pending_bytes >= self.batch_bytes:
            self.flush()
        return index

    def flush(self) -> None:
        """Commit what is queued (growing the map as often as needed)."""
        while self.pending:
            try:
                with self.env.begin(write=True) as txn:
                    for k, v in self.pending:
                        txn.put(k, v, append=True)
                self.pending, self.pending_bytes = [], 0
            except lmdb.MapFullError:
                self.env.set_mapsize(self.env.info()["map_size"] * 2)

    def close(self) -> None:
        """Flush, sync and close."""
        self.flush()
        self.env.sync(True)
        self.env.close()


_ENVS: dict[tuple[str, int], "lmdb.Environment"] = {}  # (path, pid) → the open environment
_ENVS_LOCK = threading.Lock()


class LmdbReader:
    """Random access to a split's records. The environment opens on first use in a process and
    is shared by every reader of that path in it (LMDB allows one per process), from any
    thread. LMDB refuses to open a path in a forked child whose parent had it open: close it
    before starting loader processes (:meth:`close`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._where = str(self.path.resolve())

    @property
    def env(self):
        key = (self._where, os.getpid())
        env = _ENVS.get(key)
        if env is None:
            with _ENVS_LOCK:
                env = _ENVS.get(key)
                if env is None:
                    env = _ENVS[key] = lmdb.open(str(self.path), readonly=True, lock=False,
                                                 readahead=False, meminit=False, subdir=True)
        return env

    def __len__(self) -> int:
        return self.env.stat()["entries"]

    def raw(self, index: int) -> bytes:
        """The stored record of entry ``index`` (IndexError past the end)."""
        with self.env.begin(buffers=False) as txn:
            value = txn.get(key(index))
        if value is None:
            raise IndexError(f"no entry {index} in {self.path}")
        return value

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return decode(self.raw(index))

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        with self.env.begin() as txn:
            for _, value in txn.cursor():
                yield decode(value)

    def close(self) -> None:
        """Close this process's environment of the path (it reopens on next use)."""
        with _ENVS_LOCK:
            env = _ENVS.pop((self._where, os.getpid()), None)
        if env is not None:
            env.close()
