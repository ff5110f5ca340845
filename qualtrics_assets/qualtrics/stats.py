"""Counters of what the client did: attempts, retries, waits, calls by route (Dagster metadata friendly)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["ClientStats"]


class ClientStats:
    """Thread-safe counters. ``as_dict()`` gives a JSON-safe snapshot with no secrets in it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.attempts = 0            # HTTP requests sent (all routes, incl. token)
            self.retries = 0             # requests that were repeats after a retryable failure
            self.total_wait_s = 0.0      # seconds slept in retry backoff / Retry-After
            self.rate_limit_wait_s = 0.0  # seconds slept in the client-side token bucket
            self.token_fetches = 0       # successful OAuth token requests
            self.auth_renewals = 0       # tokens renewed because of a 401
            self.pages = 0               # list pages fetched
            self.exports = 0             # exports started
            self.export_polls = 0
            self.bytes_downloaded = 0
            self.attempts_by_route: Counter[str] = Counter()
            self.retries_by_reason: Counter[str] = Counter()
            self.statuses: Counter[str] = Counter()

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def record_attempt(self, route: str) -> None:
        with self._lock:
            self.attempts += 1
            self.attempts_by_route[route] += 1

    def record_status(self, status: int | str) -> None:
        with self._lock:
            self.statuses[str(status)] += 1

    def record_retry(self, reason: str, wait_s: float) -> None:
        with self._lock:
            self.retries += 1
            self.total_wait_s += wait_s
            self.retries_by_reason[reason] += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "attempts": self.attempts,
                "retries": self.retries,
                "total_wait_s": round(self.total_wait_s, 3),
                "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
                "token_fetches": self.token_fetches,
                "auth_renewals": self.auth_renewals,
                "pages": self.pages,
                "exports": self.exports,
                "export_polls": self.export_polls,
                "bytes_downloaded": self.bytes_downloaded,
                "attempts_by_route": dict(sorted(self.attempts_by_route.items())),
                "retries_by_reason": dict(sorted(self.retries_by_reason.items())),
                "statuses": dict(sorted(self.statuses.items())),
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.as_dict()!r})"
