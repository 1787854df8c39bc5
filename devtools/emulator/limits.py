"""The predict endpoints' page budget: pages per minute per model over a sliding window (429 with no
Retry-After above it, as live Nanonets), and the account's page credit (402 once it is used up)."""

from __future__ import annotations

import time
from collections import deque

from devtools.emulator.config import EmulatorConfig

MINUTE = 60.0


class PageLimiter:
    """Pages accepted per model in the last (scaled) minute. Not locked: callers hold the state lock."""

    def __init__(self) -> None:
        self._accepted: dict[str, deque[tuple[float, int]]] = {}

    def take(self, model: str, pages: int, config: EmulatorConfig) -> bool:
        """Count `pages` against the model's budget if they fit; False (nothing counted) if they do not."""
        if config.pages_per_minute is None:
            return True
        window = self._window(model, MINUTE * config.time_scale)
        used = sum(count for _, count in window)
        # An empty window admits any document, so one longer than the whole budget is not refused forever.
        if used and used + pages > config.pages_per_minute:
            return False
        window.append((time.monotonic(), pages))
        return True

    def reset(self) -> None:
        self._accepted.clear()

    def _window(self, model: str, seconds: float) -> deque[tuple[float, int]]:
        window = self._accepted.setdefault(model, deque())
        cutoff = time.monotonic() - seconds
        while window and window[0][0] <= cutoff:
            window.popleft()
        return window
