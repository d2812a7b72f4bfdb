"""The cache of published weights every job shares: download once, verified, visible.

Standard library only: the web process lists and imports files with it, workers download with
it. The layout is torch.hub's (``<cache>/checkpoints/<file name>``), so torchvision's builders
find a file here without downloading, and an existing ``~/.cache/torch/hub`` can serve as the
cache (``DIGITSX_WEIGHTS_DIR``).

A file is used only once its SHA-256 matches what torchvision publishes (the hex prefix in its
file name, ``resnet18-f37072fd.pth``, the check ``torch.hub`` makes): a download goes to a
``.part`` file, is checked, then renamed; a mismatched or truncated file is deleted and named in
the error. ``<file>.sha256`` records a checked file (its digest, size, where it came from). Two
jobs needing one file at once: the first downloads under a lock, the second waits and uses it.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

CHUNK = 1 << 20
READ_TIMEOUT = 30.0  # seconds without a byte: the server is gone
MAX_BYTES = 4 * 2**30  # a file whose size torchvision does not say


class WeightsError(ValueError):
    """A weights file that cannot be had or used; the message names it and why."""


def folder(root: str | Path) -> Path:
    """Where the files are: torch.hub's ``<hub dir>/checkpoints``."""
    return Path(root) / "checkpoints"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def check(path: Path, entry: dict) -> str:
    """The file's SHA-256 if it starts with the published prefix; else WeightsError."""
    digest = sha256(path)
    prefix = entry.get("sha256_prefix") or ""
    if not digest.startswith(prefix):
        raise WeightsError(f"{entry['file']}: SHA-256 {digest[:16]}… does not match the published "
                           f"{prefix} (a wrong or truncated file); it was deleted")
    return digest


def record(path: Path, digest: str, source: str) -> None:
    marker = path.with_name(path.name + ".sha256")
    marker.write_text(json.dumps({"sha256": digest, "size": path.stat().st_size, "source": source,
                                  "checked": time.time()}))


def recorded(path: Path) -> dict | None:
    """The record of a checked file, or None (not checked, or changed since)."""
    try:
        info = json.loads(path.with_name(path.name + ".sha256").read_text())
        return info if path.stat().st_size == info.get("size") else None
    except (OSError, ValueError, AttributeError):
        return None


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One process at a time fetches or imports ``path``; the others wait here."""
    locks = path.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / path.name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def size_limit(entry: dict) -> int:
    """The most bytes a download of ``entry`` may have: its published size and 5 % (+1 MiB)."""
    size = float(entry.get("size_mb") or 0)
    return int(size * 1e6 * 1.05) + 2**20 if size else MAX_BYTES


def source_url(entry: dict, mirror: str | None) -> str:
    """torchvision's URL, or the same file name under ``mirror`` (http or https only)."""
    if not mirror:
        return entry["url"]
    if urllib.parse.urlsplit(mirror).scheme not in ("http", "https"):
        raise WeightsError(f"weights mirror {mirror!r}: expected an http:// or https:// URL")
    return mirror.rstrip("/") + "/" + urllib.parse.quote(entry["file"])


Progress = Callable[[int, int, float], None]  # (bytes so far, total or 0, bytes per second)


def _copy(source: IO[bytes], part: Path, limit: int, total: int, progress: Progress | None,
          what: str) -> None:
    start = last = time.monotonic()
    done = 0
    with open(part, "wb") as out:
        for block in iter(lambda: source.read(CHUNK), b""):
            done += len(block)
            if done > limit:
                raise WeightsError(f"{what}: more than {limit / 1e6:.1f} MB, larger than the published "
                                   f"file (or allowed); refused")
            out.write(block)
            now = time.monotonic()
            if progress and now - last >= 0.5:
                progress(done, total, done / max(now - start, 1e-6))
                last = now
    if progress:
        progress(done, total or done, done / max(time.monotonic() - start, 1e-6))


def download(url: str, part: Path, limit: int, progress: Progress | None = None,
             timeout: float = READ_TIMEOUT, name: str | None = None) -> None:
    """``url`` (http or https) into ``part``: at most ``limit`` bytes (a larger or endless answer
    is refused), ``timeout`` seconds without a byte; WeightsError names the file and why. The
    caller renames ``part`` once it has checked it, and deletes it otherwise."""
    name = name or part.name
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise WeightsError(f"{name}: {url!r} is not an http:// or https:// URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 (http(s) only)
            total = int(reply.headers.get("Content-Length") or 0)
            if total > limit:
                raise WeightsError(f"{name} at {url} is {total / 1e6:.1f} MB, larger than the "
                                   f"published file (or the {limit / 1e6:.1f} MB allowed); refused")
            _copy(reply, part, limit, total, progress, f"{name} at {url}")
    except WeightsError:
        raise
    except OSError as err:
        if getattr(err, "errno", None) == errno.ENOSPC:
            raise WeightsError(f"the disk holding {part.parent} is full: {name} could not be "
                               f"saved") from err
        reason = getattr(err, "reason", None) or err
        raise WeightsError(f"could not download {name} from {url}: {reason}") from err


def fetch(entry: dict, root: str | Path, mirror: str | None = None,
          progress: Progress | None = None, timeout: float = READ_TIMEOUT) -> tuple[Path, bool]:
    """The checked file for ``entry`` (a catalog entry: ``file``, ``url``, ``sha256_prefix``,
    ``size_mb``), downloaded into the cache if it is not there. Returns (path, downloaded)."""
    dest = folder(root) / entry["file"]
    with locked(dest):
        if dest.exists() and recorded(dest):
            return dest, False
        if dest.exists():  # put there by hand: checked before first use
            try:
                record(dest, check(dest, entry), "found in the cache")
                return dest, False
            except WeightsError:
                dest.unlink(missing_ok=True)
                raise
        url = source_url(entry, mirror)
        part = dest.with_name(f"{dest.name}.part{os.getpid()}")
        try:
            download(url, part, size_limit(entry), progress, timeout, entry["file"])
            try:
                digest = check(part, entry)
            except WeightsError as err:
                raise WeightsError(f"{err} (downloaded from {url})") from None
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
        record(dest, digest, url)
        return dest, True


def import_file(source: IO[bytes], entry: dict, root: str | Path, origin: str) -> Path:
    """Put a file someone brought (an upload, a server path) into the cache under ``entry``'s
    name, checked like a download."""
    dest = folder(root) / entry["file"]
    with locked(dest):
        part = dest.with_name(f"{dest.name}.part{os.getpid()}")
        try:
            try:
                _copy(source, part, size_limit(entry), 0, None, entry["file"])
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    raise WeightsError(f"the disk holding {dest.parent} is full") from err
                raise
            digest = check(part, entry)
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
        record(dest, digest, origin)
    return dest


def listing(root: str | Path, weights: dict[str, dict]) -> dict:
    """The cache for the System page: each file (size, which weights it is, checked or not) and,
    for each published file not there, its exact name and where to put it."""
    where = folder(root)
    by_file: dict[str, list[str]] = {}
    for name, entry in weights.items():
        by_file.setdefault(entry["file"], []).append(name)
    files = []
    if where.is_dir():
        for path in sorted(where.iterdir()):
            if not path.is_file() or path.name.endswith(".sha256") or ".part" in path.name:
                continue
            info = recorded(path)
            files.append({"file": path.name, "size": path.stat().st_size,
                          "weights": by_file.get(path.name, []), "verified": bool(info),
                          "sha256": (info or {}).get("sha256"), "source": (info or {}).get("source")})
    present = {f["file"] for f in files}
    missing = [{"file": file, "weights": names, "url": weights[names[0]]["url"],
                "path": str(where / file), "size_mb": weights[names[0]].get("size_mb")}
               for file, names in sorted(by_file.items()) if file not in present]
    return {"folder": str(where), "files": files, "missing": missing}
