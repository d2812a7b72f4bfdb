"""A segmentation LMDB record: the image (as :mod:`digitsx.datasets.lmdb_io` stores it) and its
class map as a PNG of class indexes (255 = ignore). ``value = b"DXS1" | image length (uint32)
| image record | label PNG``. Torch-free."""
from __future__ import annotations

import io
import struct

import numpy as np

from ..datasets import lmdb_io

MAGIC = b"DXS1"
HEAD = struct.Struct("<4sI")


def pack(image_record: bytes, label: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8), "L").save(buf, format="PNG", compress_level=1)
    return HEAD.pack(MAGIC, len(image_record)) + image_record + buf.getvalue()


def split(value: bytes) -> tuple[bytes, bytes]:
    """(the image record, the label PNG)."""
    magic, n = HEAD.unpack_from(value)
    if magic != MAGIC:
        raise ValueError("not a digitsx segmentation record")
    return value[HEAD.size:HEAD.size + n], value[HEAD.size + n:]


def label(value: bytes) -> np.ndarray:
    """The uint8 class map H×W alone."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(split(value)[1])))


def decode(value: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image H×W or H×W×3, uint8 class map H×W)."""
    return lmdb_io.decode(split(value)[0])[0], label(value)
