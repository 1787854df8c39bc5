"""Submit: one source object version to Nanonets, exactly once however many events announce it.

The key's route (the longest matching prefix of the routes file) says which model it goes to and where its
output lands; a key under no route is skipped with a reason. Keyed by the source version (bucket, key,
version id or ETag) with a conditional S3 write (the claim), paced by the route's model's pages-per-minute
budget shared by every worker. A document held back by pacing, a 429 or a
402 stop is answered "failed, retryable, after N s" and its claim released: it is never quarantined for
being throttled, and the caller (SQS, the HTTP client, backfill) brings it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from service.core.keys import KeyPolicy, skip_reason
from service.core.pacing import PaceDecision
from service.core.routes import Route, Routes
from service.errors import NanonetsError, NanonetsQuotaExceeded, NanonetsRateLimited, StorageUnavailable
from service.logs import log_state_change
from service.models.ledger import LedgerRecord, SubmissionClaim
from service.models.source import SourceRef
from service.ports import Clock, Metrics, Ocr, Pacer, StateStores
from service.usecases.correlation import source_context
from service.usecases.outcomes import SubmitOutcome
from service.usecases.quarantine import Quarantiner, submission_quarantine_id

log = logging.getLogger(__name__)


# Once Nanonets has accepted a file, recording it is retried through a short S3 outage (about 15 s) rather
# than given up at once: a claim left "submitting" is taken over when stale, which would submit the same
# version a second time.
RECORD_RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)


class SubmitConfig(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
    presign_ttl_seconds: int
    claim_stale_seconds: int
    record_retry_delays: tuple[float, ...] = RECORD_RETRY_DELAYS


class _Blocked(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
    reason: str
    already_submitted: bool = False


class SubmitDocument:
    def __init__(
        self,
        stores: StateStores,
        ocr: Ocr,
        pacer: Pacer,
        policy: KeyPolicy,
        routes: Routes,
        config: SubmitConfig,
        quarantine: Quarantiner,
        clock: Clock,
        metrics: Metrics,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sleep = sleep
        self._stores = stores
        self._ocr = ocr
        self._pacer = pacer
        self._policy = policy
        self._routes = routes
        self._config = config
        self._quarantine = quarantine
        self._clock = clock
        self._metrics = metrics

    def submit(self, source: SourceRef, size: int | None = None) -> SubmitOutcome:
        """Submit the version the source holds now (its HEAD says what the presigned URL will serve)."""
        reason = skip_reason(self._policy, source.bucket, source.key, size)
        if reason:
            return _skipped(source, reason)
        head = self._stores.sources.head(source)
        if head is None:
            return _skipped(source, "object not found (deleted since?)")
        reason = skip_reason(self._policy, source.bucket, source.key, head.size)
        route = self.route_for(source.key)
        if reason or route is None:
            return _skipped(source, reason or "under no route")
        return self._submit_version(head.ref, route)

    def route_for(self, key: str) -> Route | None:
        return self._routes.route_for(key)

    def resubmit_orphan(self, claim: SubmissionClaim) -> SubmitOutcome:
        """Submit a version whose claimant died, if the source still holds it (else release the claim)."""
        source = claim.source
        head = self._stores.sources.head(source)
        if head is None or head.ref.token != source.token:
            self._release(source)
            return _skipped(source, "source changed or deleted")
        route = self.route_for(source.key)
        if route is None:  # the routes changed since it was claimed
            self._release(source)
            return _skipped(source, "under no route (the routes changed since it was claimed)")
        # Nothing redelivers an orphan (no event is waiting for it): held back, it keeps the claim and its
        # marker, and the next sweep once the claim is stale again tries again.
        return self._submit_version(source, route, held_keeps_claim=True)

    def record_orphaned_file(self, claim: SubmissionClaim) -> LedgerRecord | None:
        """Record the file a submitted claim names when no ledger record does (its worker died in between);
        None when there is nothing to record."""
        file_id = claim.request_file_id
        if file_id is None or self._stores.ledger.get(file_id) is not None:
            return None
        route = self.route_for(claim.source.key)
        return self.record_submission(claim, file_id, route) if route is not None else None

    def _submit_version(
        self, source: SourceRef, route: Route, *, held_keeps_claim: bool = False
    ) -> SubmitOutcome:
        with source_context(source, route=route.name):
            return self._claim_and_submit(source, route, held_keeps_claim=held_keeps_claim)

    def _claim_and_submit(self, source: SourceRef, route: Route, *, held_keeps_claim: bool) -> SubmitOutcome:
        claims = self._stores.claims
        claim = SubmissionClaim(source=source, claimed_at=self._clock())
        # Marker before claim: a crash between the two leaves a marker reconcile cleans up, never a claim
        # nobody can find.
        claims.mark_submitting(source)
        blocked = self._take_claim(claim)
        if blocked:
            if blocked.already_submitted:
                claims.clear_submitting(source)  # the marker we just wrote: nothing is under way
            return _skipped(source, blocked.reason, already_submitted=blocked.already_submitted)
        pace = self._pacer.acquire(route.model_id, ticket=f"{source.digest[:32]}:{source.token}")
        if not pace.granted:
            if not held_keeps_claim:
                self._release(source)
            return self._held_back(source, pace)
        try:
            url = self._stores.sources.presign(source, self._config.presign_ttl_seconds)
            request_file_id = self._ocr.submit_url_async(url, submission_metadata(source), route.model_id)
        except NanonetsError as error:
            held = isinstance(error, NanonetsRateLimited | NanonetsQuotaExceeded)
            if not (held and held_keeps_claim):
                self._release(source)
            return self._refused(source, route.model_id, error)
        # Nanonets has the file from here on: record it before anything else can fail.
        self._record_holding_on(claim, request_file_id, route)
        self._pacer.accepted(route.model_id)
        self._metrics.quota_stopped(False)  # Nanonets took it: no 402 stop now, whatever there was
        return SubmitOutcome(
            status="submitted", bucket=source.bucket, key=source.key, request_file_id=request_file_id
        )

    def _take_claim(self, claim: SubmissionClaim) -> _Blocked | None:
        """None when this caller may submit; else why not."""
        claims = self._stores.claims
        if claims.create(claim):
            return None
        found = claims.read(claim.source)
        if found is None:
            return None if claims.create(claim) else _Blocked("submission already in progress")
        existing, etag = found
        if existing.state == "submitted":
            return _Blocked(f"already submitted (request_file_id {existing.request_file_id})", True)
        age = (self._clock() - existing.claimed_at).total_seconds()
        if age < self._config.claim_stale_seconds:
            return _Blocked("submission already in progress")
        # The claimant died mid-submission; take over, unless another worker just did.
        if claims.replace(claim, if_match=etag):
            return None
        return _Blocked("submission already in progress")

    def _release(self, source: SourceRef) -> None:
        """Leave no claim behind, so a repeated event, `submit` or backfill tries this version again."""
        self._stores.claims.delete(source)
        self._stores.claims.clear_submitting(source)

    def _refused(self, source: SourceRef, model_id: str, error: NanonetsError) -> SubmitOutcome:
        if isinstance(error, NanonetsRateLimited):
            self._pacer.rate_limited(model_id, getattr(error, "retry_after", None))
            pause = self._pacer.snapshot(model_id).cooldown_seconds_left
            return self._held_back(source, PaceDecision(pause, "cooldown"), str(error))
        if isinstance(error, NanonetsQuotaExceeded):
            self._pacer.quota_exceeded(model_id)
            probe = self._pacer.snapshot(model_id).quota_probe_seconds_left
            return self._held_back(source, PaceDecision(probe, "quota"), str(error))
        self._quarantine.put(
            kind="submission",
            code="submission_failed",
            reason=f"could not submit to Nanonets: {error}",
            quarantine_id=submission_quarantine_id(source),
            source=source,
        )
        log_state_change("submission_failed", level=logging.WARNING, error=str(error))
        return SubmitOutcome(
            status="failed",
            bucket=source.bucket,
            key=source.key,
            reason=str(error),
            retryable=error.status is None or error.status >= 500,
        )

    def _record_holding_on(self, claim: SubmissionClaim, request_file_id: str, route: Route) -> LedgerRecord:
        for delay in self._config.record_retry_delays:
            try:
                return self.record_submission(claim, request_file_id, route)
            except StorageUnavailable as error:
                log.warning(
                    "recording a submission failed; trying again",
                    extra={"request_file_id": request_file_id, "error": str(error), "retry_in": delay},
                )
                self._sleep(delay)
        return self.record_submission(claim, request_file_id, route)

    def record_submission(self, claim: SubmissionClaim, request_file_id: str, route: Route) -> LedgerRecord:
        """The claim marked submitted (with the file id), then the ledger record (with the route and its
        model); also used to adopt a file whose worker died before recording it.

        Claim first: a worker that dies between the two leaves a claim that names its file, which the file's
        webhook or reconcile's sweep (the submitting marker is still there) records; the other way round it
        left a claim "submitting" that reconcile took over, submitting the version a second time."""
        source, now = claim.source, self._clock()
        record = LedgerRecord(
            request_file_id=request_file_id,
            model_id=route.model_id,
            route=route.name,
            source=source,
            status="pending",
            submitted_at=now,
            updated_at=now,
            output_key=route.output_key(source.key),
            analytics_day=now.date(),
        )
        done = claim.model_copy(update={"state": "submitted", "request_file_id": request_file_id})
        self._stores.claims.replace(done)
        self._stores.ledger.put(record)
        self._stores.claims.clear_submitting(source)
        self._stores.quarantine.delete(submission_quarantine_id(source))
        self._metrics.document_submitted()
        with source_context(source, request_file_id=request_file_id, submitted_at=now):
            log_state_change("submitted", at=now)
        return record

    def _held_back(self, source: SourceRef, pace: PaceDecision, cause: str | None = None) -> SubmitOutcome:
        """Not submitted now, never quarantined for it: the caller brings the document back after the wait."""
        outcome = _held_back(source, pace, now=self._clock(), cause=cause)
        hold = pace.hold or "rate"
        self._metrics.pacing_wait(pace.wait_seconds, hold)
        if hold == "quota":
            self._metrics.quota_stopped(True)
        log_state_change("held_back", hold=hold, retry_after=outcome.retry_after)
        return outcome


def submission_metadata(source: SourceRef) -> dict[str, str | None]:
    """What we send as request_metadata: Nanonets echoes it in the webhook, which lets a webhook that
    overtook (or outlived) its submission record find its claim."""
    return {
        "bucket": source.bucket,
        "key": source.key,
        "etag": source.etag,
        "version_id": source.version_id,
        "token": source.token,
        "digest": source.digest,
    }


def _skipped(source: SourceRef, reason: str, *, already_submitted: bool = False) -> SubmitOutcome:
    return SubmitOutcome(
        status="skipped",
        bucket=source.bucket,
        key=source.key,
        reason=reason,
        already_submitted=already_submitted,
    )


def _held_back(
    source: SourceRef, pace: PaceDecision, *, now: datetime, cause: str | None = None
) -> SubmitOutcome:
    wait = max(round(pace.wait_seconds, 1), 1.0)
    what = {
        "rate": "pages-per-minute budget",
        "cooldown": "Nanonets rate limit (429)",
        "quota": "Nanonets credit (402)",
    }
    reason = f"held back by the {what.get(pace.hold or 'rate')}: retry in {wait:.0f} s"
    return SubmitOutcome(
        status="failed",
        bucket=source.bucket,
        key=source.key,
        reason=f"{reason} ({cause})" if cause else reason,
        retryable=True,
        retry_after=wait,
        retry_at=now + timedelta(seconds=wait),
    )
