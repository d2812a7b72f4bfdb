"""The cache of published weights every job shares: download once, verified, visible.

Standard library only: the web process lists and imports files with it, workers download with
it. The layout is torch.hub's (``<cache>/checkpoints/<file name>``), so torchvision's builders
find a file here without downloading, and an existing ``~/.cache/torch/hub`` can serve as the
cache (``DIGITSX_WEIGHTS_DIR``).

A file is used only once its SHA-256 matches: the full digest pinned in our catalog
(``sha256``, from ``digitsx/models/weights_sha256.json``) where there is one, and always the hex
prefix in torchvision's file name (``resnet18-f37072fd.pth``, the check ``torch.hub`` makes,
only 32 bits: a second check, never the only one where a digest is pinned). A file with no
pinned digest is trusted on first use: its full digest is recorded then, and every later use
must match it. A download goes to a ``.part`` file, is checked, then renamed; a mismatched or
truncated file is deleted and named in the error. ``<file>.sha256`` records a checked file (its
digest, size, where it came from). The digest is checked again before every use
(:func:`verified_bytes`: the bytes that are hashed are the bytes that are loaded). Two jobs
needing one file at once: the first downloads under a lock, the second waits and uses it.

Nothing here unpickles: workers load the bytes with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

from .. import netfetch

CHUNK = 1 << 20
MAX_BYTES = 4 * 2**30  # a file whose size torchvision does not say


class WeightsError(ValueError):
    """A weights file that cannot be had or used; the message names it and why."""


class Busy(WeightsError):
    """Another process holds the file's lock (a download or an import of it)."""


def folder(root: str | Path) -> Path:
    """Where the files are: torch.hub's ``<hub dir>/checkpoints``."""
    return Path(root) / "checkpoints"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def pinned(entry: dict) -> str | None:
    """The full SHA-256 our catalog pins for ``entry``'s file, or None."""
    digest = entry.get("sha256")
    return digest.lower() if isinstance(digest, str) and len(digest) == 64 else None


def match(digest: str, entry: dict, expected: str | None = None) -> None:
    """WeightsError unless ``digest`` is the pinned one (or ``expected``: the digest recorded on
    first use), and starts with the published prefix."""
    prefix = entry.get("sha256_prefix") or ""
    want = pinned(entry) or expected
    if want and digest != want:
        raise WeightsError(f"{entry['file']}: SHA-256 {digest[:16]}… is not the "
                           f"{'pinned' if pinned(entry) else 'recorded'} {want[:16]}… (a wrong, "
                           f"altered or truncated file); refused")
    if not digest.startswith(prefix):
        raise WeightsError(f"{entry['file']}: SHA-256 {digest[:16]}… does not match the published "
                           f"{prefix} (a wrong or truncated file); refused")


def check(path: Path, entry: dict) -> str:
    """The file's SHA-256 if it is the pinned digest and starts with the published prefix;
    else WeightsError."""
    digest = sha256(path)
    match(digest, entry)
    return digest


def verified_bytes(entry: dict, root: str | Path) -> bytes:
    """The cached file's bytes, checked now against the pinned digest (or the one recorded when
    it was first checked) and the published prefix: what a worker loads, never the path (a file
    swapped between the check and the load would go unchecked)."""
    path = folder(root) / entry["file"]
    try:
        data = path.read_bytes()
    except OSError as err:
        raise WeightsError(f"{entry['file']} is not in the weights cache {path.parent} ({err.strerror})") from None
    info = recorded(path)
    if info is None and not pinned(entry):
        raise WeightsError(f"{entry['file']} in {path.parent} was not checked (no record of its "
                           f"digest); import it again")
    match(hashlib.sha256(data).hexdigest(), entry, (info or {}).get("sha256"))
    return data


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
def locked(path: Path, wait: bool = True) -> Iterator[None]:
    """One process at a time fetches or imports ``path``; the others wait here (``wait``) or
    get :class:`Busy` at once (the web process, which must never block on a lock)."""
    locks = path.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / path.name, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Busy(f"{path.name} is being downloaded or imported right now; try again when "
                       f"that has finished") from None
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


# What a user without internet access can do, in a job's error (the job page links the path).
OFFLINE_HINT = ("Without internet access, copy {file} into the weights cache ({folder}) or have an "
                "admin import it on System → Published weights (/system#weights), then resume the job")

Progress = Callable[[int, int, float], None]  # (bytes so far, total or 0, bytes per second)


def _copy(source: IO[bytes], part: Path, limit: int, what: str) -> None:
    done = 0
    with open(part, "wb") as out:
        for block in iter(lambda: source.read(CHUNK), b""):
            done += len(block)
            if done > limit:
                raise WeightsError(f"{what}: more than {limit / 1e6:.1f} MB, larger than the published "
                                   f"file (or allowed); refused")
            out.write(block)


def download(url: str, part: Path, limit: int, progress: Progress | None = None,
             timeout: float | None = None, name: str | None = None) -> None:
    """``url`` (http or https) into ``part``: at most ``limit`` bytes (a larger or endless answer
    is refused), in at most ``timeout`` seconds in all (default: enough for ``limit`` bytes at
    the minimum rate, which is also kept on average: a server that drips is cut off); redirects
    only to the same origin. WeightsError names the file and why, never what the server said.
    The caller renames ``part`` once it has checked it, and deletes it otherwise."""
    name = name or part.name
    try:
        with open(part, "wb") as out:
            netfetch.copy(url, out, limit, timeout or netfetch.deadline_for(limit), progress)
    except netfetch.FetchError as err:
        message = str(err)
        if "larger than" in message or "more than" in message:
            message += " (larger than the published file, or allowed)"
        raise WeightsError(f"could not download {name}: {message}") from None
    except OSError as err:
        if getattr(err, "errno", None) == errno.ENOSPC:
            raise WeightsError(f"the disk holding {part.parent} is full: {name} could not be "
                               f"saved") from err
        raise WeightsError(f"could not save {name} in {part.parent}: {err.strerror}") from err


def fetch(entry: dict, root: str | Path, mirror: str | None = None,
          progress: Progress | None = None, timeout: float | None = None) -> tuple[Path, bool]:
    """The checked file for ``entry`` (a catalog entry: ``file``, ``url``, ``sha256_prefix``,
    ``size_mb``), downloaded into the cache if it is not there. Returns (path, downloaded)."""
    dest = folder(root) / entry["file"]
    with locked(dest):
        if dest.exists() and recorded(dest):  # checked again on the bytes a job loads
            return dest, False                  # (verified_bytes), not here as well
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
            try:
                download(url, part, size_limit(entry), progress, timeout, entry["file"])
            except WeightsError as err:
                if "could not download" not in str(err):
                    raise
                raise WeightsError(f"{err}. {OFFLINE_HINT.format(file=entry['file'], folder=dest.parent)}") from None
            try:
                digest = check(part, entry)
            except WeightsError as err:
                raise WeightsError(f"{err} (downloaded from {url})") from None
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
        record(dest, digest, url)
        return dest, True


def import_file(source: IO[bytes], entry: dict, root: str | Path, origin: str,
                wait: bool = True) -> Path:
    """Put a file someone brought (an upload, a server path) into the cache under ``entry``'s
    name, checked like a download (``wait=False``: :class:`Busy` while a job downloads it)."""
    dest = folder(root) / entry["file"]
    with locked(dest, wait):
        part = dest.with_name(f"{dest.name}.part{os.getpid()}")
        try:
            try:
                _copy(source, part, size_limit(entry), entry["file"])
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
            names = by_file.get(path.name, [])
            files.append({"file": path.name, "size": path.stat().st_size,
                          "weights": names, "verified": bool(info),
                          "pinned": bool(names and pinned(weights[names[0]])),
                          "sha256": (info or {}).get("sha256"), "source": (info or {}).get("source")})
    present = {f["file"] for f in files}
    missing = [{"file": file, "weights": names, "url": weights[names[0]]["url"],
                "path": str(where / file), "size_mb": weights[names[0]].get("size_mb")}
               for file, names in sorted(by_file.items()) if file not in present]
    return {"folder": str(where), "files": files, "missing": missing}
