"""The pending figures (count, age of the oldest) from the ledger's pending index, reported as gauges."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from service.observability.metrics import Metrics


class Listed(Protocol):
    @property
    def last_modified(self) -> datetime: ...


class PendingIndex(Protocol):
    def list_index(self, status: Literal["pending"], limit: int | None = None) -> Iterable[Listed]: ...


@dataclass(frozen=True)
class PendingFigures:
    count: int
    oldest_age_seconds: float | None


def pending_figures(listed: Iterable[Listed], now: datetime) -> PendingFigures:
    count, oldest = 0, None
    for item in listed:
        count += 1
        oldest = item.last_modified if oldest is None else min(oldest, item.last_modified)
    age = round((now - oldest).total_seconds(), 1) if oldest is not None else None
    return PendingFigures(count=count, oldest_age_seconds=age)


def report_pending(index: PendingIndex, metrics: Metrics, clock: Callable[[], datetime]) -> PendingFigures:
    """List the pending index once (O(pending)) and set the pending gauges from it."""
    listed = list(index.list_index("pending"))
    figures = pending_figures(listed, clock())
    metrics.pending(figures.count, figures.oldest_age_seconds)
    return figures
