"""Helpers every task's web side and workers share: is a path inside the allowed roots, and the
input error they raise. Archives (checked unpacking) are in :mod:`digitsx.archives`."""
from __future__ import annotations

import os
import time
from pathlib import Path


IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff",
                              ".webp"})


def is_image(name: str) -> bool:
    """True for a file name with an image extension (any case)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


class InputError(ValueError):
    """Input a user can fix: a missing folder, a malformed line, an archive that is refused..."""


def within_roots(path: str | Path, roots: list[str]) -> bool:
    """True if ``path``, with every symlink and ``..`` resolved, lies under one of ``roots``
    (never for a path with a NUL byte, which no file system call accepts)."""
    if "\x00" in str(path):
        return False
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep)
               for root in (_real_root(str(r)) for r in roots))


_ROOTS: dict[str, tuple[float, str]] = {}


def _real_root(root: str) -> str:
    """A root with its symlinks resolved, cached for a second (it is resolved on every check)."""
    now = time.monotonic()
    cached = _ROOTS.get(root)
    if cached is None or now - cached[0] > 1.0:
        cached = _ROOTS[root] = (now, os.path.realpath(root))
    return cached[1]


