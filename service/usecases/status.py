"""Status: counts by state, the oldest pending submission, the last webhook, and pacing (backlog, 429
pause, 402 stop) per model of every route."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel

from service.models.ledger import LEDGER_STATUSES
from service.ports import Clock, Pacer, StateStores


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

    @property
    def quota_stopped(self) -> bool:
        return any(p.quota_stopped_since is not None for p in self.pacing)


def status_report(
    stores: StateStores,
    pacer: Pacer,
    model_ids: Sequence[str],
    clock: Clock,
    routes_of: Mapping[str, Sequence[str]] | None = None,
) -> StatusReport:
    """`routes_of`: the names of the routes of each model, shown with its pacing."""
    now = clock()
    counts: dict[str, int] = {}
    oldest: datetime | None = None
    for status in LEDGER_STATUSES:
        counts[status] = 0
        for entry in stores.ledger.entries(status):
            counts[status] += 1
            if status == "pending" and (oldest is None or entry.marked_at < oldest):
                oldest = entry.marked_at
    return StatusReport(
        pending=counts["pending"],
        done=counts["done"],
        failed=counts["failed"],
        superseded=counts["superseded"],
        quarantined=sum(1 for _ in stores.quarantine.ids()),
        oldest_pending_age_seconds=round((now - oldest).total_seconds(), 1) if oldest else None,
        last_webhook_at=stores.raw.last_webhook(),
        pacing=[
            PacingStatus(**vars(pacer.snapshot(model_id)), routes=list((routes_of or {}).get(model_id, ())))
            for model_id in model_ids
        ],
    )
