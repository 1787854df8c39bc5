"""A token bucket for pacing calls below a rate limit. The clock is passed in, so it is testable."""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    def __init__(self, *, rate_per_second: float, burst: int, clock: Callable[[], float]) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self._rate = rate_per_second
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; return how long to wait before using it (0 when one was there)."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self._rate
