"""The images a generic task's test job reads (worker side, torch-free): the list the route
wrote (``inputs/images.txt``, paths on the server) or an uploaded archive unpacked into
``scratch/archive`` (gone when the job ends), each shown by the name its user knows."""
from __future__ import annotations

from pathlib import Path

from .. import archives
from ..files import is_image

MAX_ARCHIVE_BYTES = 16 * 2**30  # unpacked


def images_to_test(folder: Path, spec: dict) -> tuple[list[str], list[str]]:
    """(paths to read, names to show) of a test job's images, at most ``spec["limit"]``."""
    if spec["source"] == "archive":
        dest = folder / "scratch" / "archive"
        archives.extract(folder / spec["archive"], dest, MAX_ARCHIVE_BYTES)
        (folder / spec["archive"]).unlink(missing_ok=True)
        paths = sorted(str(p) for p in dest.rglob("*") if p.is_file() and is_image(p.name))
        shown = [str(Path(p).relative_to(dest)) for p in paths]
        if not paths:
            raise ValueError("the archive holds no image files")
    else:
        paths = (folder / "inputs" / "images.txt").read_text().splitlines()
        shown = list(paths)
    if spec.get("limit"):
        paths, shown = paths[:int(spec["limit"])], shown[:int(spec["limit"])]
    return paths, shown
