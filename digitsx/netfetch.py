"""Reading from servers we do not control (model stores, weights mirrors): every transfer has a
total deadline and a minimum rate, follows redirects only to the same origin, and says what
went wrong without repeating what the other side answered.

Standard library only: the web process (store listings) and workers (weights, store files) use
it. What it guards against: a store that redirects to ``http://127.0.0.1:6379/`` or
``ftp://`` (the server would fetch internal addresses for whoever controls the store, and an
error that quoted the answer would tell which internal ports are open); one that drips a byte a
second (a per-read timeout never fires, and the request or job slot is held for minutes); one
that answers forever.
"""
from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Callable, Iterator

CHUNK = 1 << 16
READ_TIMEOUT = 30.0  # seconds without a byte: the server is gone
MIN_RATE = 64 * 1024  # bytes per second, on average, once GRACE has passed
GRACE = 10.0  # seconds before the minimum rate applies (a slow start, a small file)
MAX_REDIRECTS = 3


class FetchError(ValueError):
    """A transfer that failed; the message names the URL and the kind of failure only."""


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def check_url(url: str) -> None:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url[:200]!r} is not an http:// or https:// URL")


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the origin (scheme, host, port) the request started at."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, start: str) -> None:
        self.start = origin(start)

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        target = urllib.parse.urljoin(req.full_url, newurl)
        if origin(target) != self.start:
            raise FetchError(f"{req.full_url[:200]} redirected to another server; refused "
                             f"(only redirects to the same scheme, host and port are followed)")
        return super().redirect_request(req, fp, code, msg, headers, target)


def _opener(url: str) -> urllib.request.OpenerDirector:
    # No proxy handler: a store's URL is reached directly, as configured; no ftp, no file.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _SameOrigin(url))


def _failure(url: str, err: BaseException) -> FetchError:
    """The failure's kind, never the other side's words."""
    if isinstance(err, FetchError):
        return err
    if isinstance(err, urllib.error.HTTPError):
        return FetchError(f"{url[:200]} answered HTTP {err.code}")
    if isinstance(err, TimeoutError) or "timed out" in str(err):
        return FetchError(f"{url[:200]} did not answer in time")
    return FetchError(f"{url[:200]} did not answer (no connection)")


class Transfer:
    """An open answer read under a deadline: ``total`` (its Content-Length, 0 when unsaid)."""

    def __init__(self, url: str, deadline: float, min_rate: float = MIN_RATE,
                 read_timeout: float = READ_TIMEOUT) -> None:
        check_url(url)
        self.url, self.min_rate = url, min_rate
        self.start = time.monotonic()
        self.deadline = self.start + deadline
        try:
            self.reply = _opener(url).open(url, timeout=min(read_timeout, deadline))
        except Exception as err:  # noqa: BLE001 - every failure is worded the same way
            raise _failure(url, err) from None
        self.total = int(self.reply.headers.get("Content-Length") or 0) if \
            str(self.reply.headers.get("Content-Length") or "0").isdigit() else 0
        self.done = 0

    def _check_time(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise FetchError(f"{self.url[:200]} took longer than allowed; stopped")
        elapsed = now - self.start
        if elapsed > GRACE and self.done / elapsed < self.min_rate:
            raise FetchError(f"{self.url[:200]} sent {self.done / elapsed / 1024:.1f} KiB/s, below the "
                             f"{self.min_rate / 1024:.0f} KiB/s minimum; stopped")

    def blocks(self, limit: int) -> Iterator[bytes]:
        """The body in blocks: FetchError past ``limit`` bytes, the deadline or the rate."""
        try:
            while True:
                self._check_time()
                block = self.reply.read1(CHUNK) if hasattr(self.reply, "read1") else self.reply.read(CHUNK)
                if not block:
                    return
                self.done += len(block)
                if self.done > limit:
                    raise FetchError(f"{self.url[:200]} sent more than {limit / 1e6:.1f} MB; refused")
                yield block
        except FetchError:
            raise
        except Exception as err:  # noqa: BLE001
            raise _failure(self.url, err) from None

    def close(self) -> None:
        try:
            self.reply.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> "Transfer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read(url: str, limit: int, deadline: float, min_rate: float = 1024) -> bytes:
    """A small answer (a listing, an ``info.json``): at most ``limit`` bytes in ``deadline``
    seconds in all."""
    with Transfer(url, deadline, min_rate, read_timeout=deadline) as t:
        if t.total > limit:
            raise FetchError(f"{url[:200]} is larger than {limit // 1024} KiB")
        return b"".join(t.blocks(limit))


def copy(url: str, out: IO[bytes], limit: int, deadline: float,
         progress: Callable[[int, int, float], None] | None = None, min_rate: float = MIN_RATE) -> int:
    """``url`` into ``out``: at most ``limit`` bytes, ``deadline`` seconds in all, and
    ``min_rate`` bytes a second on average after the first seconds; returns the size."""
    with Transfer(url, deadline, min_rate) as t:
        if t.total > limit:
            raise FetchError(f"{url[:200]} is {t.total / 1e6:.1f} MB, larger than the "
                             f"{limit / 1e6:.1f} MB allowed; refused")
        last = time.monotonic()
        for block in t.blocks(limit):
            out.write(block)
            now = time.monotonic()
            if progress and now - last >= 0.5:
                progress(t.done, t.total, t.done / max(now - t.start, 1e-6))
                last = now
        if progress:
            progress(t.done, t.total or t.done, t.done / max(time.monotonic() - t.start, 1e-6))
        return t.done


def deadline_for(size: int) -> float:
    """The total time a file of ``size`` bytes may take: the grace, plus the size at the
    minimum rate."""
    return GRACE + 30.0 + size / MIN_RATE

