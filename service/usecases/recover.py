"""Recovery: reconcile (webhooks that never came, claims whose worker died, events not delivered, analytics
rows not written), replay, backfill, quarantine retry. Each goes through the same submit and complete use
cases a live event or webhook takes, so a recovered document gets the same idempotency."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.core.keys import KeyPolicy, skip_reason
from service.core.pacing import TokenBucket
from service.core.payloads import decode_json
from service.errors import NanonetsError, NanonetsNotFound, PayloadRejected
from service.logs import log_state_change
from service.models.ledger import LedgerRecord
from service.models.source import SourceRef
from service.ports import Clock, Metrics, Pacer, ReviewPushes, StateStores
from service.usecases.complete import CompleteFile
from service.usecases.correlation import record_context
from service.usecases.downstream import Downstream
from service.usecases.intake import Intake
from service.usecases.outcomes import FileOutcomeKind
from service.usecases.quarantine import Quarantiner, failed_file_quarantine_id
from service.usecases.status import publish_gauges
from service.usecases.submit import SubmitDocument

log = logging.getLogger(__name__)

Confirmer = Callable[[str], None]


class ReconcileSummary(BaseModel):
    checked: int = 0
    completed: int = 0
    still_pending: int = 0
    too_young: int = 0
    failed: int = 0
    errors: int = 0
    # Claims left "submitting" by a worker that died: submitted again (or found done and cleaned up).
    resubmitted: int = 0
    # Review console corrections and approvals sent to Nanonets again (REVIEW_PUSH_TO_NANONETS).
    review_pushes_sent: int = 0
    review_pushes_failed: int = 0
    # Completion events parked by a failed quick attempt: delivered now, still failing, given up.
    events_delivered: int = 0
    events_retrying: int = 0
    events_dead: int = 0
    # Documents whose analytics rows could not be written with their output, written now.
    rows_written: int = 0

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.model_dump().items())


class ReplayResult(BaseModel):
    raw_key: str
    request_file_id: str | None = None
    outcome: FileOutcomeKind | Literal["missing"]
    reason: str | None = None


BackfillStatus = Literal["submitted", "already_submitted", "skipped", "failed", "would_submit"]


@dataclass(frozen=True)
class BackfillItem:
    key: str
    status: BackfillStatus
    reason: str | None = None


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


class RetryResult(BaseModel):
    id: str
    resolved: bool
    detail: str


@dataclass(frozen=True)
class RecoveryConfig:
    max_pending_seconds: int
    claim_stale_seconds: int
    model_ids: tuple[str, ...] = ()  # whose pacing a reconcile run reports


class Recovery:
    def __init__(
        self,
        stores: StateStores,
        submit: SubmitDocument,
        complete: CompleteFile,
        intake: Intake,
        quarantine: Quarantiner,
        downstream: Downstream,
        policy: KeyPolicy,
        pacer: Pacer,
        config: RecoveryConfig,
        clock: Clock,
        pushes: ReviewPushes,
        metrics: Metrics,
    ) -> None:
        self._pushes = pushes
        self._stores = stores
        self._submit = submit
        self._complete = complete
        self._intake = intake
        self._quarantine = quarantine
        self._downstream = downstream
        self._policy = policy
        self._pacer = pacer
        self._config = config
        self._clock = clock
        self._metrics = metrics

    # ================= reconcile =================

    def reconcile(self, *, older_than_seconds: int, limit: int) -> ReconcileSummary:
        """Fetch results for submissions whose webhook has not come (from each one's own model), take over
        orphaned claims, deliver parked events, write rows that are behind. Costs O(pending + parked),
        bounded by `limit`."""
        summary = ReconcileSummary()
        now = self._clock()
        ledger = self._stores.ledger
        for entry in ledger.entries("pending", limit=limit):
            summary.checked += 1
            if (now - entry.marked_at).total_seconds() < older_than_seconds:
                summary.too_young += 1
                continue
            record = ledger.get(entry.request_file_id)
            if record is None or record.status != "pending":
                if record is not None:  # a crash between two writes: put the index right
                    ledger.put(record, previous_status="pending")
                continue
            with record_context(record):
                self._reconcile_one(record, now, summary)
        self._sweep_orphaned_claims(now, summary, limit)
        pushed = self._pushes.retry_pending(limit)
        summary.review_pushes_sent, summary.review_pushes_failed = pushed.sent, pushed.failed
        # What is left pending, and pacing, as `status` shows them: on Lambda, the scheduled run is what
        # keeps these gauges (and the alarms reading them) current.
        publish_gauges(ledger, self._pacer, self._config.model_ids, self._clock, self._metrics)
        caught_up = self._downstream.catch_up(limit)
        summary.events_delivered = caught_up.events.delivered
        summary.events_retrying = caught_up.events.retrying
        summary.events_dead = caught_up.events.dead
        summary.rows_written = caught_up.rows_written
        log.info("reconcile finished", extra=summary.model_dump())
        return summary

    def _sweep_orphaned_claims(self, now: datetime, summary: ReconcileSummary, limit: int) -> None:
        """A worker that died between claiming a source version and recording its submission leaves a
        claim that blocks every later event for that version. Past CLAIM_STALE_SECONDS, submit it again."""
        claims = self._stores.claims
        for marker in claims.unfinished(limit=limit):
            claim = marker.claim
            if claim is None or claim.state == "submitted":
                # Finished, or failed and released: nothing to do, unless its worker died between marking
                # the claim submitted and writing the ledger record.
                if claim is not None and self._submit.record_orphaned_file(claim) is not None:
                    log.warning("orphaned file recorded", extra={"request_file_id": claim.request_file_id})
                claims.drop_marker(marker)
                continue
            if (now - claim.claimed_at).total_seconds() < self._config.claim_stale_seconds:
                continue
            outcome = self._submit.resubmit_orphan(claim)
            log.warning(
                "orphaned submission claim taken over",
                extra={"bucket": claim.source.bucket, "key": claim.source.key, "outcome": outcome.status},
            )
            summary.resubmitted += outcome.status == "submitted"
            summary.errors += outcome.status == "failed"

    def _reconcile_one(self, record: LedgerRecord, now: datetime, summary: ReconcileSummary) -> None:
        file_id = record.request_file_id
        age = (now - record.submitted_at).total_seconds()
        try:
            prediction, raw_key = self._complete.fetch(file_id, record.model_id)
        except NanonetsNotFound:
            self._fail(record, "nanonets_not_found", "Nanonets does not know this request_file_id")
            summary.failed += 1
            return
        except NanonetsError as error:
            log.warning("reconcile fetch failed", extra={"request_file_id": file_id, "error": str(error)})
            summary.errors += 1
            return
        except PayloadRejected:
            summary.errors += 1  # quarantined with its raw body by `fetch`
            return
        if prediction.ready:
            outcome = self._complete.complete(prediction, raw_key, fetched=True)
            summary.completed += outcome.settled
            return
        if age > self._config.max_pending_seconds:
            reason = f"no result from Nanonets after {int(age)} s (MAX_PENDING_SECONDS)"
            self._fail(record, "pending_too_long", reason)
            summary.failed += 1
            return
        summary.still_pending += 1

    def _fail(self, record: LedgerRecord, code: str, reason: str) -> None:
        now = self._clock()
        updated = record.model_copy(update={"status": "failed", "reason": reason, "updated_at": now})
        self._stores.ledger.put(updated, previous_status=record.status)
        log_state_change("failed", at=now, level=logging.WARNING, code=code)
        self._quarantine.put(
            kind="submission",
            code=code,
            reason=reason,
            request_file_id=record.request_file_id,
            source=record.source,
            quarantine_id=failed_file_quarantine_id(record.request_file_id),
        )

    # ================= replay =================

    def replay(
        self, *, request_file_id: str | None = None, since: datetime | None = None
    ) -> list[ReplayResult]:
        """Re-run archived raw bodies (webhooks and fetched results) through `complete`, oldest first."""
        results: list[ReplayResult] = []
        for raw_key in self._raw_keys_to_replay(request_file_id, since):
            results.extend(self._replay_one(raw_key, request_file_id))
        return results

    def _raw_keys_to_replay(self, request_file_id: str | None, since: datetime | None) -> list[str]:
        if request_file_id is not None:
            record = self._stores.ledger.get(request_file_id)
            return list(record.raw_keys) if record else []
        entries = [e for e in self._stores.raw.entries() if since is None or e.stored_at >= since]
        return [e.raw_key for e in sorted(entries, key=lambda e: e.stored_at)]

    def _replay_one(self, raw_key: str, only_file: str | None) -> list[ReplayResult]:
        body = self._stores.raw.get(raw_key)
        if body is None:
            return [ReplayResult(raw_key=raw_key, outcome="missing", reason="raw body no longer archived")]
        try:
            predictions = self._complete.parse_archived(body, raw_key, kind="webhook")
        except PayloadRejected as rejected:
            return [ReplayResult(raw_key=raw_key, outcome="quarantined", reason=rejected.message)]
        results = []
        for prediction in predictions:
            if (only_file is not None and prediction.request_file_id != only_file) or not prediction.ready:
                continue
            outcome = self._complete.complete(prediction, raw_key, fetched=True)
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

    def backfill(
        self,
        bucket: str,
        prefix: str,
        *,
        dry_run: bool = False,
        rate_per_second: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[BackfillItem]:
        """Submit every eligible existing object under a prefix, through the same path as an event (so it
        is idempotent with events and with an earlier, interrupted run), paced by a token bucket."""
        limiter = TokenBucket(
            rate_per_second=rate_per_second, burst=max(1, int(rate_per_second)), clock=clock
        )
        for listed in self._stores.sources.listing(bucket, prefix):
            key = listed.ref.key
            reason = skip_reason(self._policy, bucket, key, listed.size)
            if reason:
                yield BackfillItem(key, "skipped", reason)
                continue
            if dry_run:
                yield BackfillItem(key, "would_submit")
                continue
            wait = limiter.reserve()
            if wait > 0:
                sleep(wait)
            yield self._backfill_one(listed.ref, listed.size, sleep)

    def _backfill_one(self, source: SourceRef, size: int, sleep: Callable[[float], None]) -> BackfillItem:
        outcome = self._submit.submit(source, size)
        while outcome.retry_after is not None:  # held back by pacing: a backfill waits its turn
            sleep(outcome.retry_after)
            outcome = self._submit.submit(source, size)
        if outcome.status == "submitted":
            return BackfillItem(source.key, "submitted")
        if outcome.already_submitted:
            return BackfillItem(source.key, "already_submitted", outcome.reason)
        if outcome.status == "skipped":
            return BackfillItem(source.key, "skipped", outcome.reason)
        return BackfillItem(source.key, "failed", outcome.reason)

    # ================= quarantine =================

    def retry_quarantined(self, quarantine_id: str, *, confirm: Confirmer) -> RetryResult:
        """Run a quarantined input again; the record is removed only once it went through."""
        record = self._stores.quarantine.get(quarantine_id)
        if record is None:
            return RetryResult(id=quarantine_id, resolved=False, detail="no such quarantine record")
        if record.kind == "submission" and record.source is not None:
            source = record.source.model_copy(update={"etag": None, "version_id": None})
            outcome = self._submit.submit(source)
            resolved = outcome.settled
            detail = f"{outcome.status}: {outcome.request_file_id or outcome.reason}"
            if resolved and record.request_file_id:
                detail += f" (replaces failed request_file_id {record.request_file_id})"
        elif record.raw_key:
            resolved, detail = self._retry_raw(record.raw_key, record.kind, confirm)
        else:
            return RetryResult(
                id=quarantine_id, resolved=False, detail="nothing to retry: no raw input or source"
            )
        if resolved:
            self._stores.quarantine.delete(quarantine_id)
        return RetryResult(id=quarantine_id, resolved=resolved, detail=detail)

    def _retry_raw(self, raw_key: str, kind: str, confirm: Confirmer) -> tuple[bool, str]:
        body = self._stores.raw.get(raw_key)
        if body is None:
            return False, "raw input no longer archived"
        try:
            if kind == "event":
                summary = self._intake.handle(decode_json(body), confirm=confirm)
                return not summary.failed, f"submitted={len(summary.submitted)} failed={len(summary.failed)}"
            result = self._complete.receive_webhook(body)
        except PayloadRejected as rejected:
            return False, f"still rejected: {rejected.message}"
        outcomes = [f.outcome for f in result.files]
        resolved = bool(outcomes) and all(f.settled for f in result.files)
        return resolved, "outcomes: " + ", ".join(outcomes)


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
