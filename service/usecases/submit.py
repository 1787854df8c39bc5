"""Submit: one source object version to Nanonets, exactly once however many events announce it.

Keyed by the source version (bucket, key, version id or ETag) with a conditional S3 write (the claim), paced
by the model's pages-per-minute budget shared by every worker. A document held back by pacing, a 429 or a
402 stop is answered "failed, retryable, after N s" and its claim released: it is never quarantined for
being throttled, and the caller (SQS, the HTTP client, backfill) brings it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.core.keys import KeyPolicy, output_key, skip_reason
from service.core.pacing import PaceDecision
from service.errors import NanonetsError, NanonetsQuotaExceeded, NanonetsRateLimited
from service.models.ledger import LedgerRecord, SubmissionClaim
from service.models.source import SourceRef
from service.ports import Clock, Ocr, Pacer, StateStores
from service.usecases.outcomes import SubmitOutcome
from service.usecases.quarantine import Quarantiner, submission_quarantine_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmitConfig:
    model_id: str
    presign_ttl_seconds: int
    claim_stale_seconds: int


@dataclass(frozen=True)
class _Blocked:
    reason: str
    already_submitted: bool = False


class SubmitDocument:
    def __init__(
        self,
        stores: StateStores,
        ocr: Ocr,
        pacer: Pacer,
        policy: KeyPolicy,
        config: SubmitConfig,
        quarantine: Quarantiner,
        clock: Clock,
    ) -> None:
        self._stores = stores
        self._ocr = ocr
        self._pacer = pacer
        self._policy = policy
        self._config = config
        self._quarantine = quarantine
        self._clock = clock

    def submit(self, source: SourceRef, size: int | None = None) -> SubmitOutcome:
        """Submit the version the source holds now (its HEAD says what the presigned URL will serve)."""
        reason = skip_reason(self._policy, source.bucket, source.key, size)
        if reason:
            return _skipped(source, reason)
        head = self._stores.sources.head(source)
        if head is None:
            return _skipped(source, "object not found (deleted since?)")
        reason = skip_reason(self._policy, source.bucket, source.key, head.size)
        if reason:
            return _skipped(source, reason)
        return self._submit_version(head.ref)

    def resubmit_orphan(self, claim: SubmissionClaim) -> SubmitOutcome:
        """Submit a version whose claimant died, if the source still holds it (else release the claim)."""
        source = claim.source
        head = self._stores.sources.head(source)
        if head is None or head.ref.token != source.token:
            self._release(source)
            return _skipped(source, "source changed or deleted")
        return self._submit_version(source)

    def _submit_version(self, source: SourceRef) -> SubmitOutcome:
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
        pace = self._pacer.acquire(self._config.model_id, ticket=f"{source.digest[:32]}:{source.token}")
        if not pace.granted:
            self._release(source)
            log.info(
                "held back",
                extra={"key": source.key, "hold": pace.hold, "wait_seconds": round(pace.wait_seconds, 2)},
            )
            return _held_back(source, pace, now=self._clock())
        try:
            url = self._stores.sources.presign(source, self._config.presign_ttl_seconds)
            request_file_id = self._ocr.submit_url_async(url, submission_metadata(source))
        except NanonetsError as error:
            self._release(source)
            return self._refused(source, error)
        self._pacer.accepted(self._config.model_id)
        self.record_submission(claim, request_file_id)
        log.info(
            "submitted",
            extra={"bucket": source.bucket, "key": source.key, "request_file_id": request_file_id},
        )
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

    def _refused(self, source: SourceRef, error: NanonetsError) -> SubmitOutcome:
        model_id = self._config.model_id
        if isinstance(error, NanonetsRateLimited):
            self._pacer.rate_limited(model_id, getattr(error, "retry_after", None))
            pause = self._pacer.snapshot(model_id).cooldown_seconds_left
            return _held_back(source, PaceDecision(pause, "cooldown"), now=self._clock(), cause=str(error))
        if isinstance(error, NanonetsQuotaExceeded):
            self._pacer.quota_exceeded(model_id)
            probe = self._pacer.snapshot(model_id).quota_probe_seconds_left
            return _held_back(source, PaceDecision(probe, "quota"), now=self._clock(), cause=str(error))
        self._quarantine.put(
            kind="submission",
            code="submission_failed",
            reason=f"could not submit to Nanonets: {error}",
            quarantine_id=submission_quarantine_id(source),
            source=source,
        )
        log.warning(
            "submission failed", extra={"bucket": source.bucket, "key": source.key, "error": str(error)}
        )
        return SubmitOutcome(
            status="failed",
            bucket=source.bucket,
            key=source.key,
            reason=str(error),
            retryable=error.status is None or error.status >= 500,
        )

    def record_submission(self, claim: SubmissionClaim, request_file_id: str) -> LedgerRecord:
        """The ledger record, then the claim marked submitted (also used to adopt an orphaned webhook)."""
        source, now = claim.source, self._clock()
        record = LedgerRecord(
            request_file_id=request_file_id,
            model_id=self._config.model_id,
            source=source,
            status="pending",
            submitted_at=now,
            updated_at=now,
            output_key=output_key(self._policy, source.key),
        )
        self._stores.ledger.put(record)
        done = claim.model_copy(update={"state": "submitted", "request_file_id": request_file_id})
        self._stores.claims.replace(done)
        self._stores.claims.clear_submitting(source)
        self._stores.quarantine.delete(submission_quarantine_id(source))
        return record


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
