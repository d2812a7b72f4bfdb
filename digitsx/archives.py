"""Safe extraction of uploaded ``.zip`` / ``.tar.gz`` / ``.tgz`` / ``.tar`` image trees.

Nothing may be written outside the extraction folder: absolute names, ``..`` components,
links and device files are refused. Bombs fail early: the unpacked size is capped, and so is
the ratio of unpacked to packed bytes past ``MIN_BOMB_BYTES`` (images hardly compress; a bomb
packs 100-1000×), counted as bytes are written so a lying header does not help, and the number
of members.
"""
from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from .files import InputError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
MAX_RATIO = 100  # unpacked bytes per packed byte, past MIN_BOMB_BYTES
MIN_BOMB_BYTES = 64 * 2**20
MAX_MEMBERS = 1_000_000


def archive_suffix(name: str) -> str | None:
    """The archive suffix of a file name, or None if it is not an archive we read."""
    lower = name.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lower.endswith(s)), None)


def _safe_name(name: str, archive: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InputError(f"{archive}: member {name!r} would be written outside the "
                                f"extraction folder; refusing the archive")
    return path


class _Limits:
    """What one archive may unpack to: bytes (the caller's cap, or the ratio's), members."""

    def __init__(self, archive: Path, max_bytes: int, max_ratio: float, min_bomb_bytes: int,
                 max_members: int) -> None:
        packed = archive.stat().st_size
        by_ratio = max(min_bomb_bytes, int(max_ratio * packed))
        self.bytes = min(max_bytes, by_ratio)
        self.why = (f"more than {self.bytes // 2**20} MiB" if self.bytes == max_bytes else
                    f"more than {max_ratio:g}x its {packed / 2**20:.1f} MiB (a zip bomb?)")
        self.members = max_members
        self.name = archive.name

    def check_members(self, count: int) -> None:
        if count > self.members:
            raise InputError(f"{self.name}: more than {self.members} members; refusing it")


def extract(archive: Path, dest: Path, max_bytes: int, *, max_ratio: float = MAX_RATIO,
            min_bomb_bytes: int = MIN_BOMB_BYTES, max_members: int = MAX_MEMBERS) -> int:
    """Extract ``archive`` into ``dest``; returns the number of files written. A refused
    archive leaves nothing of itself in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name
    try:
        limits = _Limits(archive, max_bytes, max_ratio, min_bomb_bytes, max_members)
        if name.lower().endswith(".zip"):
            return _extract_zip(archive, dest, limits)
        return _extract_tar(archive, dest, limits)
    except InputError:
        _empty(dest)
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        _empty(dest)
        raise InputError(f"{name}: not a readable archive ({err})") from err


def _empty(dest: Path) -> None:
    for child in dest.iterdir():
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)


def _extract_zip(archive: Path, dest: Path, limits: _Limits) -> int:
    count = total = 0
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        limits.check_members(len(members))
        for info in members:
            _safe_name(info.filename, archive.name)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise InputError(f"{archive.name}: member {info.filename!r} is a symbolic "
                                        f"link; refusing the archive")
        _check_size(sum(i.file_size for i in members), limits)  # what the headers claim
        for info in members:
            if info.is_dir():
                continue
            target = dest / _safe_name(info.filename, archive.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                total = _copy_capped(src, out, total, limits)  # what they really hold
            count += 1
    return count


def _extract_tar(archive: Path, dest: Path, limits: _Limits) -> int:
    count = total = members = 0
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            members += 1
            limits.check_members(members)
            path = _safe_name(member.name, archive.name)
            if member.isdir():
                continue
            if not member.isfile():
                raise InputError(f"{archive.name}: member {member.name!r} is a link or "
                                        f"special file; refusing the archive")
            _check_size(total + member.size, limits)
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            with src, open(target, "wb") as out:
                total = _copy_capped(src, out, total, limits)
            count += 1
    return count


def _copy_capped(src, out, total: int, limits: _Limits) -> int:
    """Copy, counting every byte against the archive's limit; the new running total."""
    while True:
        chunk = src.read(1 << 20)
        if not chunk:
            return total
        total += len(chunk)
        _check_size(total, limits)
        out.write(chunk)


def _check_size(total: int, limits: _Limits) -> None:
    if total > limits.bytes:
        raise InputError(f"{limits.name}: unpacks to {limits.why}; refusing it")


def remove_tree(path: Path) -> None:
    """Delete an extraction folder (after the dataset is built)."""
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


__all__ = ["extract", "archive_suffix", "remove_tree", "ARCHIVE_SUFFIXES"]
