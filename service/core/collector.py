"""The cyclic garbage collector held off while one webhook body is parsed and normalized.

Reading a body allocates its whole tree of containers (a 1,000-page body: tens of thousands), all alive
until the document is built, and none in a reference cycle: reference counting frees every one of them.
With the collector on, those allocations trigger young collections that walk the growing tree again and
again, then promote it into full collections that also walk everything start-up left behind: a third of
the time of a 1,000-page body (docs/BENCHMARKS.md, table 2, "GC off"). Holding the collector off for that
bounded stretch loses nothing (no cycle is made, so nothing waits for it) and it runs again right after.

The collector is one per process, so the pause is too: nested or concurrent pauses (gunicorn threads)
are counted, the last one out restores the collector as the first one in found it, and a pause never
turns on a collector someone else turned off.
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType


class _Pause:
    """A context manager (a class, not a generator: it runs twice per webhook, so it is kept cheap)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._restore = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._restore = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._restore:
                gc.enable()


# One per process, as the collector it pauses is.
_PAUSE = _Pause()


def collector_paused() -> _Pause:
    """`with collector_paused():` around a bounded stretch that makes no reference cycle."""
    return _PAUSE
