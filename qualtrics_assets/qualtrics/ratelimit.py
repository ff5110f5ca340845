"""Per-process request-rate limiting: a blocking, thread-safe token bucket.

Why not a library: the candidates were pyrate-limiter (its API broke between majors 2, 3 and 4;
it brings bucket backends we do not need) and limits (counts hits against storages but offers no
blocking acquire). What is needed here is one in-memory bucket per (host, rate) per process that
blocks the caller until a token is free — about twenty lines, with no state shared across
processes (Dagster runs each step in its own process; the brand-wide limit is shared with other
jobs anyway, which is why 429s are retried on top of this).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket", "shared_bucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` banked; :meth:`acquire` blocks until one is free."""

    def __init__(self, rate: float, capacity: int, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be > 0 and capacity >= 1")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._tokens = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping as needed; return the seconds slept."""
        slept = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return slept
                delay = (1.0 - self._tokens) / self.rate
            self._sleep(delay)
            slept += delay


_BUCKETS: dict[tuple[str, float, int], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(key: str, rate: float, capacity: int) -> TokenBucket:
    """The process-wide bucket for ``key`` (e.g. a host) at this rate; created on first use."""
    k = (key, float(rate), int(capacity))
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(k)
        if bucket is None:
            bucket = _BUCKETS[k] = TokenBucket(rate, capacity)
        return bucket
