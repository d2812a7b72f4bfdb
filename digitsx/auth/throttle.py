"""Rate limits in the web process (``limits``' moving window, in memory).

Failed logins are counted per (user, address) and per address; routes that start a process
(*Visualize*, exports, new jobs) per user. A refusal is a 429 that says when to try again.
"""
from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ..errors import TooManyRequests


class Throttle:
    """Named limits (``"10 per 15 minutes"``) counted per key."""

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, limit: str, *key: str) -> int | None:
        """Seconds until ``key`` may try again, or None if it may now."""
        item = parse(limit)
        if self.limiter.test(item, *key):
            return None
        reset, _ = self.limiter.get_window_stats(item, *key)
        return max(1, math.ceil(reset - time.time()))

    def hit(self, limit: str, *key: str) -> bool:
        """Count one event; False when it is over the limit."""
        return self.limiter.hit(parse(limit), *key)

    def clear(self, limit: str, *key: str) -> None:
        self.limiter.clear(parse(limit), *key)

    def check(self, limit: str, what: str, *key: str) -> None:
        """Count one ``what`` for ``key``, or refuse it with a 429."""
        if not self.hit(limit, *key):
            wait = self.retry_after(limit, *key) or 1
            raise TooManyRequests(f"Too many {what} ({limit}); try again in {wait} s.",
                                  retry_after=wait)
