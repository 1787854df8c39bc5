"""Operations that recover and inspect: reconcile, replay, backfill, quarantine retry, status.

Each reuses the two use cases of `pipeline` (submit, complete), so a recovered document goes through exactly
the path a live event or webhook would have taken, with the same idempotency.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.core.keys import skip_reason
from service.core.pacing import TokenBucket
from service.core.payloads import parse_retrieval
from service.errors import NanonetsError, NanonetsNotFound, PayloadRejected
from service.models.ledger import LedgerRecord
from service.observability.pending import report_pending
from service.pipeline import FileOutcome, ObjectRef, Pipeline, decode_json, iso, parse_iso

log = logging.getLogger(__name__)


# ================= reconcile =================


class ReconcileSummary(BaseModel):
    checked: int = 0
    completed: int = 0
    still_pending: int = 0
    too_young: int = 0
    failed: int = 0
    errors: int = 0
    # Claims left "submitting" by a worker that died: submitted again (or found done and cleaned up).
    resubmitted: int = 0

    def line(self) -> str:
        return (
            f"checked={self.checked} completed={self.completed} still_pending={self.still_pending} "
            f"too_young={self.too_young} failed={self.failed} errors={self.errors} "
            f"resubmitted={self.resubmitted}"
        )


def reconcile(pipeline: Pipeline, *, older_than_seconds: int, limit: int) -> ReconcileSummary:
    """Fetch results for submissions whose webhook has not come. Costs O(pending), bounded by `limit`."""
    summary = ReconcileSummary()
    now = pipeline.now()
    for listed in pipeline.storage.list_index("pending", limit=limit):
        summary.checked += 1
        if (now - listed.last_modified).total_seconds() < older_than_seconds:
            summary.too_young += 1
            continue
        file_id = pipeline.storage.index_id(listed)
        record = pipeline.storage.get_record(file_id)
        if record is None or record.status != "pending":
            _drop_stale_marker(pipeline, file_id, record)
            continue
        _reconcile_one(pipeline, record, now, summary)
    _sweep_orphaned_claims(pipeline, now, summary, limit)
    report_pending(pipeline.storage, pipeline.services.metrics, pipeline.now)
    log.info("reconcile finished", extra=summary.model_dump())
    return summary


def _sweep_orphaned_claims(pipeline: Pipeline, now: datetime, summary: ReconcileSummary, limit: int) -> None:
    """A worker that died between claiming a source version and recording its submission leaves a claim
    that blocks every later event for that version. Past CLAIM_STALE_SECONDS, submit it again."""
    stale_after = pipeline.settings.claim_stale_seconds
    for listed in pipeline.storage.list_submitting(limit=limit):
        found = pipeline.storage.claim_of_marker(listed)
        if found is None or found[0].state == "submitted":
            pipeline.storage.delete_marker(listed)  # finished, or failed and released: nothing to do
            continue
        claim = found[0]
        if (now - parse_iso(claim.claimed_at)).total_seconds() < stale_after:
            continue
        outcome = pipeline.resubmit_orphan(claim)
        log.warning(
            "orphaned submission claim taken over",
            extra={"bucket": claim.source.bucket, "key": claim.source.key, "outcome": outcome.status},
        )
        summary.resubmitted += outcome.status == "submitted"
        summary.errors += outcome.status == "failed"


def _reconcile_one(
    pipeline: Pipeline, record: LedgerRecord, now: datetime, summary: ReconcileSummary
) -> None:
    file_id = record.request_file_id
    age = (now - parse_iso(record.submitted_at)).total_seconds()
    try:
        data = pipeline.nanonets.fetch_file(file_id)
    except NanonetsNotFound:
        _fail(pipeline, record, "nanonets_not_found", "Nanonets does not know this request_file_id")
        summary.failed += 1
        return
    except NanonetsError as error:
        log.warning("reconcile fetch failed", extra={"request_file_id": file_id, "error": str(error)})
        summary.errors += 1
        return
    raw_key = pipeline.storage.archive_raw(json.dumps(data, sort_keys=True).encode())
    try:
        prediction = parse_retrieval(data, file_id)
    except PayloadRejected as rejected:
        pipeline.quarantine(kind="webhook", code=rejected.code, reason=rejected.message, raw_key=raw_key)
        summary.errors += 1
        return
    if prediction.ready:
        outcome = pipeline.complete_file(prediction, raw_key, fetched=True)
        summary.completed += outcome.outcome in ("written", "unchanged", "superseded")
        return
    if age > pipeline.settings.max_pending_seconds:
        reason = f"no result from Nanonets after {int(age)} s (MAX_PENDING_SECONDS)"
        _fail(pipeline, record, "pending_too_long", reason)
        summary.failed += 1
        return
    summary.still_pending += 1


def _fail(pipeline: Pipeline, record: LedgerRecord, code: str, reason: str) -> None:
    updated = record.model_copy(
        update={"status": "failed", "reason": reason, "updated_at": iso(pipeline.now())}
    )
    pipeline.storage.put_record(updated, previous_status=record.status)
    pipeline.quarantine(
        kind="submission",
        code=code,
        reason=reason,
        request_file_id=record.request_file_id,
        source=record.source,
        quarantine_id=f"failed-{record.request_file_id}",
    )


def _drop_stale_marker(pipeline: Pipeline, file_id: str, record: LedgerRecord | None) -> None:
    """A pending marker whose record moved on (a crash between two writes): put the index right."""
    if record is None:
        return
    pipeline.storage.put_record(record, previous_status="pending")


# ================= replay =================


class ReplayResult(BaseModel):
    raw_key: str
    request_file_id: str | None = None
    outcome: str
    reason: str | None = None


def replay(
    pipeline: Pipeline,
    *,
    request_file_id: str | None = None,
    since: datetime | None = None,
) -> list[ReplayResult]:
    """Re-run archived raw bodies (webhooks and fetched results) through `complete`, oldest first."""
    results: list[ReplayResult] = []
    for raw_key in _raw_keys_to_replay(pipeline, request_file_id, since):
        results.extend(_replay_one(pipeline, raw_key, request_file_id))
    return results


def _raw_keys_to_replay(pipeline: Pipeline, request_file_id: str | None, since: datetime | None) -> list[str]:
    if request_file_id is not None:
        record = pipeline.storage.get_record(request_file_id)
        return list(record.raw_keys) if record else []
    listed = [item for item in pipeline.storage.list_raw() if since is None or item.last_modified >= since]
    return [item.key for item in sorted(listed, key=lambda item: item.last_modified)]


def _replay_one(pipeline: Pipeline, raw_key: str, only_file: str | None) -> list[ReplayResult]:
    body = pipeline.storage.get_raw(raw_key)
    if body is None:
        return [ReplayResult(raw_key=raw_key, outcome="missing", reason="raw body no longer archived")]
    try:
        predictions = pipeline.parse_archived(body, raw_key, kind="webhook")
    except PayloadRejected as rejected:
        return [ReplayResult(raw_key=raw_key, outcome="quarantined", reason=rejected.message)]
    results = []
    for prediction in predictions:
        if only_file is not None and prediction.request_file_id != only_file:
            continue
        if not prediction.ready:
            continue
        outcome: FileOutcome = pipeline.complete_file(prediction, raw_key, fetched=True)
        results.append(
            ReplayResult(
                raw_key=raw_key,
                request_file_id=outcome.request_file_id,
                outcome=outcome.outcome,
                reason=outcome.reason,
            )
        )
    return results


# ================= backfill =================


class BackfillSummary(BaseModel):
    listed: int = 0
    submitted: int = 0
    already_submitted: int = 0
    skipped: int = 0
    failed: int = 0
    would_submit: int = 0
    failures: list[dict[str, str]] = Field(default_factory=list)

    def line(self) -> str:
        return (
            f"listed={self.listed} submitted={self.submitted} already_submitted={self.already_submitted} "
            f"skipped={self.skipped} failed={self.failed} would_submit={self.would_submit}"
        )


@dataclass(frozen=True)
class BackfillItem:
    key: str
    status: Literal["submitted", "already_submitted", "skipped", "failed", "would_submit"]
    reason: str | None = None


def backfill(
    pipeline: Pipeline,
    bucket: str,
    prefix: str,
    *,
    dry_run: bool = False,
    rate_per_second: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[BackfillItem]:
    """Submit every eligible existing object under a prefix, through the same path as an event (so it is
    idempotent with events and with an earlier, interrupted run), paced by a token bucket."""
    bucket_limiter = TokenBucket(
        rate_per_second=rate_per_second, burst=max(1, int(rate_per_second)), clock=clock
    )
    for listed in pipeline.storage.list_sources(bucket, prefix):
        reason = skip_reason(pipeline.services.policy, bucket, listed.key, listed.size)
        if reason:
            yield BackfillItem(listed.key, "skipped", reason)
            continue
        if dry_run:
            yield BackfillItem(listed.key, "would_submit")
            continue
        wait = bucket_limiter.reserve()
        if wait > 0:
            pipeline.services.metrics.pacing_wait(wait)
            sleep(wait)
        outcome = pipeline.submit_object(ObjectRef(bucket=bucket, key=listed.key, size=listed.size))
        if outcome.status == "submitted":
            yield BackfillItem(listed.key, "submitted")
        elif (
            outcome.status == "skipped" and outcome.reason and outcome.reason.startswith("already submitted")
        ):
            yield BackfillItem(listed.key, "already_submitted", outcome.reason)
        elif outcome.status == "skipped":
            yield BackfillItem(listed.key, "skipped", outcome.reason)
        else:
            yield BackfillItem(listed.key, "failed", outcome.reason)


def summarize_backfill(
    items: Iterator[BackfillItem], on_item: Callable[[BackfillItem], None]
) -> BackfillSummary:
    summary = BackfillSummary()
    for item in items:
        summary.listed += 1
        setattr(summary, item.status, getattr(summary, item.status) + 1)
        if item.status == "failed":
            summary.failures.append({"key": item.key, "reason": item.reason or ""})
        on_item(item)
    return summary


# ================= quarantine =================


class RetryResult(BaseModel):
    id: str
    resolved: bool
    detail: str


def retry_quarantined(pipeline: Pipeline, quarantine_id: str) -> RetryResult:
    """Run a quarantined input again; the record is removed only once it went through."""
    record = pipeline.storage.get_quarantine(quarantine_id)
    if record is None:
        return RetryResult(id=quarantine_id, resolved=False, detail="no such quarantine record")
    if record.kind == "submission" and record.source is not None:
        source = record.source
        outcome = pipeline.submit_object(ObjectRef(bucket=source.bucket, key=source.key))
        resolved = outcome.status == "submitted" or bool(
            outcome.reason and outcome.reason.startswith("already submitted")
        )
        detail = f"{outcome.status}: {outcome.request_file_id or outcome.reason}"
        if resolved and record.request_file_id:
            detail += f" (replaces failed request_file_id {record.request_file_id})"
    elif record.raw_key:
        resolved, detail = _retry_raw(pipeline, record.raw_key, record.kind)
    else:
        return RetryResult(
            id=quarantine_id, resolved=False, detail="nothing to retry: no raw input or source"
        )
    if resolved:
        pipeline.storage.delete_quarantine(quarantine_id)
    return RetryResult(id=quarantine_id, resolved=resolved, detail=detail)


def _retry_raw(pipeline: Pipeline, raw_key: str, kind: str) -> tuple[bool, str]:
    body = pipeline.storage.get_raw(raw_key)
    if body is None:
        return False, "raw input no longer archived"
    if kind == "event":
        from service.adapters.sns import confirm_subscription
        from service.intake import handle_event_payload

        try:
            summary = handle_event_payload(pipeline, decode_json(body), confirm=confirm_subscription)
        except PayloadRejected as rejected:
            return False, f"still rejected: {rejected.message}"
        return not summary.failed, f"submitted={len(summary.submitted)} failed={len(summary.failed)}"
    try:
        result = pipeline.receive_webhook(body)
    except PayloadRejected as rejected:
        return False, f"still rejected: {rejected.message}"
    outcomes = [f.outcome for f in result.files]
    resolved = bool(outcomes) and all(o in ("written", "unchanged", "superseded") for o in outcomes)
    return resolved, "outcomes: " + ", ".join(outcomes)


# ================= status =================


class StatusReport(BaseModel):
    pending: int
    done: int
    failed: int
    superseded: int
    quarantined: int
    oldest_pending_age_seconds: float | None
    last_webhook_at: str | None


def status(pipeline: Pipeline) -> StatusReport:
    storage = pipeline.storage
    now = pipeline.now()
    pending = list(storage.list_index("pending"))
    oldest = min((item.last_modified for item in pending), default=None)
    pipeline.services.metrics.pending(len(pending), (now - oldest).total_seconds() if oldest else None)
    return StatusReport(
        pending=len(pending),
        done=sum(1 for _ in storage.list_index("done")),
        failed=sum(1 for _ in storage.list_index("failed")),
        superseded=sum(1 for _ in storage.list_index("superseded")),
        quarantined=sum(1 for _ in storage.list_quarantine()),
        oldest_pending_age_seconds=round((now - oldest).total_seconds(), 1) if oldest else None,
        last_webhook_at=storage.last_webhook(),
    )
