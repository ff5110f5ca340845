"""Fault injection: make chosen routes misbehave a chosen number of times.

`faults.add(route, kind, times=None, probability=1.0, **params)`; route is a route name or "*".
A fault with probability < 1 draws from a Random seeded by the sandbox seed, so a run is
repeatable. Each hit is counted in `fault.hits`, so tests can assert a fault actually fired.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

ROUTES = {"token", "whoami", "users", "user", "surveys", "survey", "definition", "questions", "question", "metadata",
          "export_start", "export_progress", "export_file", "*"}
KINDS = {"429", "500", "503", "slow", "drop", "failed_export", "stuck_export", "truncate", "expire_token",
         "foreign_next_page"}
# Kinds that only make sense on some routes; "*" applies them only there.
ROUTE_LIMITS = {
    "failed_export": {"export_start", "export_progress"},
    "stuck_export": {"export_start", "export_progress"},
    "truncate": {"export_file"},
    "foreign_next_page": {"users", "surveys"},
}


@dataclass
class Fault:
    route: str
    kind: str
    times: int | None
    probability: float
    params: dict
    hits: int = 0

    def applies(self, route: str) -> bool:
        if self.route not in ("*", route):
            return False
        return route in ROUTE_LIMITS.get(self.kind, {route})

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


@dataclass
class Faults:
    seed: int = 0
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"faults|{self.seed}")

    def add(self, route: str, kind: str, times: int | None = None, probability: float = 1.0, **params) -> Fault:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; known: {sorted(ROUTES)}")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(KINDS)}")
        fault = Fault(route, kind, times, probability, params)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def take(self, route: str, kinds: set[str]) -> Fault | None:
        """The first live fault of one of `kinds` for `route`, counted as a hit; else None."""
        with self.lock:
            for f in self.faults:
                if f.kind in kinds and not f.exhausted and f.applies(route):
                    if f.probability < 1.0 and self.rng.random() >= f.probability:
                        continue
                    f.hits += 1
                    return f
        return None
