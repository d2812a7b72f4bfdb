"""Safe extraction of uploaded ``.zip`` / ``.tar.gz`` / ``.tgz`` / ``.tar`` image trees.

Nothing may be written outside the extraction folder: absolute names, ``..`` components,
links and device files are refused, and the unpacked size is capped (a zip bomb fails early).
"""
from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from .discover import DatasetInputError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def archive_suffix(name: str) -> str | None:
    """The archive suffix of a file name, or None if it is not an archive we read."""
    lower = name.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lower.endswith(s)), None)


def _safe_name(name: str, archive: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DatasetInputError(f"{archive}: member {name!r} would be written outside the "
                                f"extraction folder; refusing the archive")
    return path


def extract(archive: Path, dest: Path, max_bytes: int) -> int:
    """Extract ``archive`` into ``dest``; returns the number of files written."""
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name
    try:
        if name.lower().endswith(".zip"):
            return _extract_zip(archive, dest, max_bytes)
        return _extract_tar(archive, dest, max_bytes)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise DatasetInputError(f"{name}: not a readable archive ({err})") from err


def _extract_zip(archive: Path, dest: Path, max_bytes: int) -> int:
    count = total = 0
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            _safe_name(info.filename, archive.name)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DatasetInputError(f"{archive.name}: member {info.filename!r} is a symbolic "
                                        f"link; refusing the archive")
        for info in members:
            if info.is_dir():
                continue
            total += info.file_size
            _check_size(total, max_bytes, archive.name)
            target = dest / _safe_name(info.filename, archive.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                total += _copy_capped(src, out, max_bytes - total + info.file_size, archive.name) \
                    - info.file_size
            count += 1
    return count


def _extract_tar(archive: Path, dest: Path, max_bytes: int) -> int:
    count = total = 0
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            path = _safe_name(member.name, archive.name)
            if member.isdir():
                continue
            if not member.isfile():
                raise DatasetInputError(f"{archive.name}: member {member.name!r} is a link or "
                                        f"special file; refusing the archive")
            total += member.size
            _check_size(total, max_bytes, archive.name)
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            with src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            count += 1
    return count


def _copy_capped(src, out, budget: int, name: str) -> int:
    """Copy, refusing to write more than ``budget`` bytes (a lying zip header)."""
    written = 0
    while True:
        chunk = src.read(1 << 20)
        if not chunk:
            return written
        written += len(chunk)
        _check_size(written, budget, name)
        out.write(chunk)


def _check_size(total: int, limit: int, name: str) -> None:
    if total > limit:
        raise DatasetInputError(f"{name}: unpacks to more than {limit // 2**20} MiB; refusing it")


def remove_tree(path: Path) -> None:
    """Delete an extraction folder (after the dataset is built)."""
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


__all__ = ["extract", "archive_suffix", "remove_tree", "ARCHIVE_SUFFIXES"]
