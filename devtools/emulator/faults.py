"""Fault injection: what share of API calls fail and how, and what happens to webhooks."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 0.0
    rate_limit_rps: float | None = None
    webhook_drop: float = 0.0
    webhook_repeat: float = 0.0
    repeat_count: int = 3
    shuffle_pages: bool = False
    fail_next: list[int] = field(default_factory=list)
    seed: int | None = None


@dataclass(frozen=True)
class Decision:
    status: int | None  # an error status to answer instead of the real one
    delay: float = 0.0
    retry_after: float | None = None


class FaultInjector:
    """Thread-safe: the emulator is served threaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.faults = Faults()
        self._random = random.Random()
        self._tokens = 0.0
        self._last = time.monotonic()

    def update(self, changes: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(Faults)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        with self._lock:
            for name, value in changes.items():
                setattr(self.faults, name, list(value) if name == "fail_next" else value)
            if "seed" in changes:
                self._random.seed(changes["seed"])
            if "rate_limit_rps" in changes and self.faults.rate_limit_rps:
                self._tokens = float(self.faults.rate_limit_rps)
                self._last = time.monotonic()
            return self.faults

    def reset(self) -> None:
        with self._lock:
            self.faults = Faults()
            self._random = random.Random()

    def decide(self) -> Decision:
        with self._lock:
            f = self.faults
            if f.fail_next:
                status = f.fail_next.pop(0)
                return Decision(status, retry_after=f.retry_after if status == 429 else None)
            if f.rate_limit_rps and not self._take_token(f.rate_limit_rps):
                return Decision(429, retry_after=max(1.0 / f.rate_limit_rps, 0.0))
            roll = self._random.random()
            if roll < f.rate_429:
                return Decision(429, retry_after=f.retry_after)
            if roll < f.rate_429 + f.rate_5xx:
                return Decision(self._random.choice((500, 502, 503)))
            delay = f.slow_seconds if self._random.random() < f.rate_slow else 0.0
            return Decision(None, delay=delay)

    def _take_token(self, rate: float) -> bool:
        now = time.monotonic()
        self._tokens = min(rate, self._tokens + (now - self._last) * rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def webhook_copies(self) -> int:
        """How many times to send one webhook: 0 (dropped), 1, or repeat_count."""
        with self._lock:
            if self._random.random() < self.faults.webhook_drop:
                return 0
            if self._random.random() < self.faults.webhook_repeat:
                return max(1, self.faults.repeat_count)
            return 1

    def shuffle(self, items: list[Any]) -> list[Any]:
        with self._lock:
            if self.faults.shuffle_pages:
                items = list(items)
                self._random.shuffle(items)
        return items
