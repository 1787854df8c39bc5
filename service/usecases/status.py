"""Status: counts by state, the oldest pending submission, the last webhook, and pacing (backlog, 429
pause, 402 stop) per model of every route. The same figures are published as metrics (docs/OPERATING.md):
`status` and reconcile publish them as they compute them, and a scrape asks `publish_gauges` for the cheap
ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, computed_field

from service.ports import Clock, Ledger, Metrics, Pacer, PacingSnapshot, StateStores


class PacingStatus(BaseModel):
    model_id: str
    routes: list[str] = []  # the routes that submit to this model
    pages_per_minute: int
    backlog: int
    cooldown_seconds_left: float
    quota_stopped_since: datetime | None
    quota_probe_seconds_left: float


class StatusReport(BaseModel):
    pending: int
    done: int
    failed: int
    superseded: int
    quarantined: int
    oldest_pending_age_seconds: float | None
    last_webhook_at: datetime | None
    pacing: list[PacingStatus]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def quota_stopped(self) -> bool:
        """Submissions are stopped by a Nanonets 402 (metric `pacing_quota_stopped`)."""
        return any(p.quota_stopped_since is not None for p in self.pacing)


@dataclass(frozen=True)
class PendingFigures:
    """`documents_pending` and `oldest_pending_age_seconds` (None: nothing pending)."""

    count: int
    oldest_age_seconds: float | None


def pending_figures(ledger: Ledger, now: datetime) -> PendingFigures:
    """From the ledger's pending index alone: O(pending), cheap enough for every scrape."""
    count, oldest = 0, None
    for entry in ledger.entries("pending"):
        count += 1
        oldest = entry.marked_at if oldest is None else min(oldest, entry.marked_at)
    age = round((now - oldest).total_seconds(), 1) if oldest is not None else None
    return PendingFigures(count=count, oldest_age_seconds=age)


def status_report(
    stores: StateStores,
    pacer: Pacer,
    model_ids: Sequence[str],
    clock: Clock,
    metrics: Metrics,
    routes_of: Mapping[str, Sequence[str]] | None = None,
) -> StatusReport:
    """`routes_of`: the names of the routes of each model, shown with its pacing."""
    now = clock()
    pending = pending_figures(stores.ledger, now)
    failed = sum(1 for _ in stores.ledger.entries("failed"))
    superseded = sum(1 for _ in stores.ledger.entries("superseded"))
    # "done" has no index of its own: every record that is in no other index (ledger adapter).
    done = max(0, stores.ledger.records() - pending.count - failed - superseded)
    snapshots = [pacer.snapshot(model_id) for model_id in model_ids]
    _publish(metrics, pending, snapshots)
    return StatusReport(
        pending=pending.count,
        done=done,
        failed=failed,
        superseded=superseded,
        quarantined=sum(1 for _ in stores.quarantine.ids()),
        oldest_pending_age_seconds=pending.oldest_age_seconds,
        last_webhook_at=stores.raw.last_webhook(),
        pacing=[
            PacingStatus(**snapshot._asdict(), routes=list((routes_of or {}).get(snapshot.model_id, ())))
            for snapshot in snapshots
        ],
    )


def publish_gauges(
    ledger: Ledger, pacer: Pacer, model_ids: Sequence[str], clock: Clock, metrics: Metrics
) -> PendingFigures:
    """The figures of `status` that are gauges (pending, oldest pending age, pacing), without counting
    every finished document: what a scrape refreshes before it answers."""
    pending = pending_figures(ledger, clock())
    _publish(metrics, pending, [pacer.snapshot(model_id) for model_id in model_ids])
    return pending


def _publish(metrics: Metrics, pending: PendingFigures, snapshots: Sequence[PacingSnapshot]) -> None:
    metrics.pending(pending.count, pending.oldest_age_seconds)
    for snapshot in snapshots:  # one model per deployment until routes land, all on the default route
        metrics.pacing(snapshot)
