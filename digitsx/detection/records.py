"""A detection LMDB record: the image (as :mod:`digitsx.datasets.lmdb_io` stores it) and its
boxes. ``value = b"DXB1" | n (uint32) | n × 6 float32 [x1, y1, x2, y2, class, ignore] | image
record``; ``ignore`` 1 marks a don't-care box (class 0, or a validation box below the minimum
size). Torch-free: the web process reads records for Explore."""
from __future__ import annotations

import struct

import numpy as np

from ..datasets import lmdb_io

MAGIC = b"DXB1"
HEAD = struct.Struct("<4sI")


def pack(boxes: np.ndarray, shape: tuple[int, ...], payload: bytes, encoding: str) -> bytes:
    boxes = np.ascontiguousarray(boxes, dtype=np.float32).reshape(-1, 6)
    return HEAD.pack(MAGIC, len(boxes)) + boxes.tobytes() + \
        lmdb_io.pack(len(boxes), shape, payload, encoding)


def split(value: bytes) -> tuple[np.ndarray, bytes]:
    """(boxes (n, 6) float32, the image record)."""
    magic, n = HEAD.unpack_from(value)
    if magic != MAGIC:
        raise ValueError("not a digitsx detection record")
    end = HEAD.size + n * 24
    return np.frombuffer(value[HEAD.size:end], np.float32).reshape(n, 6), value[end:]


def decode(value: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image H×W or H×W×3, boxes (n, 6))."""
    boxes, image = split(value)
    return lmdb_io.decode(image)[0], boxes
