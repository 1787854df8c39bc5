"""The use cases that move a document: submit a source object, complete a prediction.

Every entry point (HTTP, Lambda, CLI, reconcile, replay) goes through these two, so a document is handled
the same way whichever door it came in by. Both are idempotent:

* submit: keyed by the source version (bucket, key, version id or ETag) with a conditional S3 write, so
  repeated or concurrent events submit once;
* complete: keyed by request_file_id; the written document's digest (without its time) is kept in the
  ledger, so a repeated webhook writes nothing, and a late webhook for an older version of the source is
  marked superseded instead of overwriting the newer output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from service.adapters.nanonets import NanonetsClient
from service.adapters.storage import Storage
from service.core.keys import KeyPolicy, object_digest, output_key, skip_reason, source_token
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload, parse_retrieval
from service.core.rules import Rules, load_rules
from service.errors import NanonetsError, PayloadRejected, StorageUnavailable
from service.logs import log_context, log_state_change
from service.models.document import NormalizedDocument, Review, SourceRef
from service.models.ledger import LedgerRecord, QuarantineKind, QuarantineRecord, SubmissionClaim
from service.models.nanonets import FilePrediction
from service.observability import Metrics
from service.observability.nanonets_calls import count_nanonets_calls
from service.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# How long a webhook that overtook its own submission record waits for that record.
RECORD_WAIT_SECONDS = 2.0
# Conditional output writes that lose to a concurrent writer re-read and try again this many times.
OUTPUT_WRITE_ATTEMPTS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---- results ----


class SubmitOutcome(BaseModel):
    status: Literal["submitted", "skipped", "failed"]
    bucket: str
    key: str | None
    request_file_id: str | None = None
    reason: str | None = None
    retryable: bool = False


class FileOutcome(BaseModel):
    request_file_id: str
    outcome: Literal["written", "unchanged", "superseded", "quarantined", "deferred"]
    output_key: str | None = None
    review: Review | None = None
    validation: Literal["passed", "failed"] | None = None
    reason: str | None = None


class WebhookResult(BaseModel):
    raw_key: str
    files: list[FileOutcome]

    @property
    def deferred(self) -> bool:
        return any(f.outcome == "deferred" for f in self.files)


@dataclass(frozen=True)
class ObjectRef:
    """A source object as an event or a listing names it."""

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None


@dataclass
class Services:
    """Everything the use cases need, built once from settings (no module-level state)."""

    settings: Settings
    storage: Storage
    nanonets: NanonetsClient
    rules: Rules | None
    policy: KeyPolicy
    clock: Clock = field(default=utc_now)
    metrics: Metrics = field(default_factory=Metrics)

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics | None = None) -> Services:
        rules = load_rules(settings.validation_rules) if settings.validation_rules else None
        metrics = metrics or Metrics()
        nanonets = NanonetsClient.from_settings(settings)
        count_nanonets_calls(nanonets._session, metrics)
        return cls(
            settings=settings,
            storage=Storage.from_settings(settings),
            nanonets=nanonets,
            rules=rules,
            policy=KeyPolicy.from_settings(settings),
            metrics=metrics,
        )


def document_digest(document: NormalizedDocument) -> str:
    """Identity of a document's content, without the time it was processed."""
    payload = document.model_dump(mode="json", exclude={"processed_at"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _output_digest(body: bytes) -> str | None:
    try:
        return document_digest(NormalizedDocument.model_validate_json(body))
    except ValueError:
        return None  # not one of our documents (edited by hand?): it is replaced


def merge_review(current: Review | None, incoming: Review) -> Review:
    """A later inference webhook never undoes a review; our own approval echoed back stays auto."""
    if incoming == "rejected":
        return "rejected"
    if incoming == "approved":
        return "auto_approved" if current == "auto_approved" else "approved"
    if current in ("approved", "rejected", "auto_approved"):
        return current
    return "pending"


class Pipeline:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.storage = services.storage
        self.nanonets = services.nanonets

    def now(self) -> datetime:
        return self.services.clock()

    # ================= submit =================

    def submit_object(self, ref: ObjectRef) -> SubmitOutcome:
        policy = self.services.policy
        reason = skip_reason(policy, ref.bucket, ref.key, ref.size)
        if reason:
            return SubmitOutcome(status="skipped", bucket=ref.bucket, key=ref.key, reason=reason)
        head = self.storage.head_source(ref.bucket, ref.key, ref.version_id)
        if head is None:
            return SubmitOutcome(
                status="skipped", bucket=ref.bucket, key=ref.key, reason="object not found (deleted since?)"
            )
        reason = skip_reason(policy, ref.bucket, ref.key, head.size)
        if reason:
            return SubmitOutcome(status="skipped", bucket=ref.bucket, key=ref.key, reason=reason)
        source = SourceRef(bucket=ref.bucket, key=ref.key, etag=head.etag, version_id=head.version_id)
        return self._submit_version(source)

    def resubmit_orphan(self, claim: SubmissionClaim) -> SubmitOutcome:
        """Submit a version whose claimant died, if the source still holds it (else release the claim)."""
        source = claim.source
        head = self.storage.head_source(source.bucket, source.key, source.version_id)
        digest = object_digest(source.bucket, source.key)
        if head is None or source_token(head.etag, head.version_id) != claim.source_token:
            self.storage.delete_claim(digest, claim.source_token)
            self.storage.clear_submitting(digest, claim.source_token)
            return SubmitOutcome(
                status="skipped", bucket=source.bucket, key=source.key, reason="source changed or deleted"
            )
        return self._submit_version(source)

    def _submit_version(self, source: SourceRef) -> SubmitOutcome:
        token = source_token(source.etag, source.version_id)
        with log_context(bucket=source.bucket, key=source.key, version_token=token):
            return self._submit_version_in_context(source)

    def _submit_version_in_context(self, source: SourceRef) -> SubmitOutcome:
        token = source_token(source.etag, source.version_id)
        digest = object_digest(source.bucket, source.key)
        claim = SubmissionClaim(source=source, source_token=token, claimed_at=iso(self.now()))
        # Marker before claim: a crash between the two leaves a marker reconcile cleans up, never a claim
        # nobody can find.
        self.storage.mark_submitting(digest, token)
        blocked = self._take_claim(digest, claim)
        if blocked:
            return SubmitOutcome(status="skipped", bucket=source.bucket, key=source.key, reason=blocked)
        try:
            url = self.storage.presign_get(
                source.bucket, source.key, source.version_id, self.settings.presign_ttl_seconds
            )
            metadata = {
                "bucket": source.bucket,
                "key": source.key,
                "etag": source.etag,
                "version_id": source.version_id,
                "token": token,
                "digest": digest,
            }
            request_file_id = self.nanonets.submit_url_async(url, metadata)
        except NanonetsError as error:
            # Leave no claim behind, so a repeated event, `submit` or backfill retries this version.
            self.storage.delete_claim(digest, token)
            self.storage.clear_submitting(digest, token)
            self._quarantine_submission(source, digest, token, error)
            log_state_change("submission_failed", level=logging.WARNING, error=str(error))
            return SubmitOutcome(
                status="failed",
                bucket=source.bucket,
                key=source.key,
                reason=str(error),
                retryable=error.status is None or error.status == 429 or error.status >= 500,
            )
        self._record_submission(source, token, digest, claim, request_file_id)
        log_state_change("submitted", request_file_id=request_file_id)
        return SubmitOutcome(
            status="submitted", bucket=source.bucket, key=source.key, request_file_id=request_file_id
        )

    def _take_claim(self, digest: str, claim: SubmissionClaim) -> str | None:
        """None when this caller may submit; else why not."""
        if self.storage.create_claim(digest, claim):
            return None
        found = self.storage.read_claim(digest, claim.source_token)
        if found is None:
            return None if self.storage.create_claim(digest, claim) else "submission already in progress"
        existing, etag = found
        if existing.state == "submitted":
            return f"already submitted (request_file_id {existing.request_file_id})"
        age = (self.now() - parse_iso(existing.claimed_at)).total_seconds()
        if age < self.settings.claim_stale_seconds:
            return "submission already in progress"
        # The claimant died mid-submission; take over, unless another worker just did.
        if self.storage.replace_claim(digest, claim, if_match=etag):
            return None
        return "submission already in progress"

    def _record_submission(
        self, source: SourceRef, token: str, digest: str, claim: SubmissionClaim, request_file_id: str
    ) -> None:
        now = iso(self.now())
        record = LedgerRecord(
            request_file_id=request_file_id,
            model_id=self.settings.nanonets_model_id,
            source=source,
            source_token=token,
            status="pending",
            submitted_at=now,
            updated_at=now,
            output_key=output_key(self.services.policy, source.key),
        )
        self.storage.put_record(record)
        done = claim.model_copy(update={"state": "submitted", "request_file_id": request_file_id})
        self.storage.replace_claim(digest, done)
        self.storage.clear_submitting(digest, token)
        self.storage.delete_quarantine(submission_quarantine_id(digest, token))
        self.services.metrics.document_submitted()

    def _quarantine_submission(
        self, source: SourceRef, digest: str, token: str, error: NanonetsError
    ) -> None:
        self.quarantine(
            kind="submission",
            code="submission_failed",
            reason=f"could not submit to Nanonets: {error}",
            quarantine_id=submission_quarantine_id(digest, token),
            source=source,
        )

    # ================= complete =================

    def receive_webhook(self, body: bytes) -> WebhookResult:
        """Archive first, then parse; an unknown shape is quarantined and rejected."""
        raw_key = self.storage.archive_raw(body)
        self.storage.note_webhook(iso(self.now()))
        files = self.parse_archived(body, raw_key, kind="webhook")
        return WebhookResult(raw_key=raw_key, files=[self.complete_file(fp, raw_key) for fp in files])

    def parse_archived(self, body: bytes, raw_key: str, *, kind: QuarantineKind) -> list[FilePrediction]:
        try:
            data = decode_json(body)
            return parse_payload(data)
        except PayloadRejected as rejected:
            self.quarantine(kind=kind, code=rejected.code, reason=rejected.message, raw_key=raw_key)
            raise

    def complete_file(
        self, prediction: FilePrediction, raw_key: str, *, fetched: bool = False
    ) -> FileOutcome:
        with log_context(request_file_id=prediction.request_file_id):
            return self._complete_file_in_context(prediction, raw_key, fetched=fetched)

    def _complete_file_in_context(
        self, prediction: FilePrediction, raw_key: str, *, fetched: bool
    ) -> FileOutcome:
        file_id = prediction.request_file_id
        if not prediction.ready:
            return FileOutcome(request_file_id=file_id, outcome="deferred", reason="prediction not ready")
        if self.settings.verify_by_fetch and not fetched:
            # The body is only a notice: what we write comes from the API, so a forged body injects nothing.
            verified = self._fetch_prediction(file_id)
            if verified is None:
                return FileOutcome(request_file_id=file_id, outcome="deferred", reason="prediction not ready")
            prediction, raw_key = verified
        record = self.storage.get_record(file_id) or self._wait_for_record(prediction)
        if record is None:
            return self._quarantine_unknown(prediction, raw_key)
        with log_context(**record_log_ids(record)):
            if self._is_superseded(record):
                return self._mark_superseded(record, raw_key)
            return self._write_output(record, prediction, raw_key)

    def _fetch_prediction(self, request_file_id: str) -> tuple[FilePrediction, str] | None:
        data = self.nanonets.fetch_file(request_file_id)
        raw_key = self.storage.archive_raw(json.dumps(data, sort_keys=True).encode())
        prediction = parse_retrieval(data, request_file_id)
        return (prediction, raw_key) if prediction.ready else None

    def _wait_for_record(self, prediction: FilePrediction) -> LedgerRecord | None:
        """A webhook can overtake the write of its own submission record; wait briefly for it, but only
        when the metadata we sent names a claim of ours that is still being submitted."""
        metadata = prediction.request_metadata or {}
        digest, token = metadata.get("digest"), metadata.get("token")
        if not isinstance(digest, str) or not isinstance(token, str):
            return None
        found = self.storage.read_claim(digest, token)
        if found is None or found[0].request_file_id not in (None, prediction.request_file_id):
            return None
        deadline = time.monotonic() + RECORD_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.1)
            record = self.storage.get_record(prediction.request_file_id)
            if record is not None:
                return record
        return self._adopt(prediction.request_file_id, digest, token)

    def _adopt(self, request_file_id: str, digest: str, token: str) -> LedgerRecord | None:
        """Nanonets accepted the submission but its worker died before recording it: the webhook carries
        the claim's own metadata, which proves the file is ours. Record it now rather than quarantine it."""
        found = self.storage.read_claim(digest, token)
        if found is None or found[0].request_file_id is not None:
            return self.storage.get_record(request_file_id)
        claim = found[0]
        self._record_submission(claim.source, token, digest, claim, request_file_id)
        log.warning(
            "adopted a submission whose worker died before recording it",
            extra={
                "request_file_id": request_file_id,
                "bucket": claim.source.bucket,
                "key": claim.source.key,
            },
        )
        return self.storage.get_record(request_file_id)

    def _quarantine_unknown(self, prediction: FilePrediction, raw_key: str) -> FileOutcome:
        reason = "request_file_id was never submitted by this deployment"
        self.quarantine(
            kind="webhook",
            code="unknown_request_file_id",
            reason=reason,
            raw_key=raw_key,
            request_file_id=prediction.request_file_id,
            quarantine_id=f"unknown-{hashlib.sha256(prediction.request_file_id.encode()).hexdigest()[:24]}",
        )
        return FileOutcome(request_file_id=prediction.request_file_id, outcome="quarantined", reason=reason)

    def _is_superseded(self, record: LedgerRecord) -> bool:
        """True when the source now holds other content than what this prediction was made from."""
        if record.status == "superseded":
            return True
        head = self.storage.head_source(record.source.bucket, record.source.key)
        if head is None:
            return False  # deleted since: keep the output of the last content we saw
        return source_token(head.etag, head.version_id) != record.source_token

    def _mark_superseded(self, record: LedgerRecord, raw_key: str) -> FileOutcome:
        reason = "the source object was overwritten by newer content; its own submission wins"
        if record.status != "superseded":
            updated = record.model_copy(
                update={
                    "status": "superseded",
                    "reason": reason,
                    "updated_at": iso(self.now()),
                    "raw_keys": _with(record.raw_keys, raw_key),
                }
            )
            self.storage.put_record(updated, previous_status=record.status)
            self.services.metrics.document_superseded()
            log_state_change("superseded", reason=reason)
        return FileOutcome(request_file_id=record.request_file_id, outcome="superseded", reason=reason)

    def _write_output(self, record: LedgerRecord, prediction: FilePrediction, raw_key: str) -> FileOutcome:
        review = merge_review(record.review, prediction.review)
        document = normalize_file(
            prediction,
            source=record.source,
            model_id=record.model_id,
            rules=self.services.rules,
            review=review,
            processed_at=self.now(),
        )
        if self._should_auto_approve(record, document):
            document = self._auto_approve(document)
        digest = document_digest(document)
        outcome = FileOutcome(
            request_file_id=record.request_file_id,
            outcome="unchanged",
            output_key=record.output_key,
            review=document.review,
            validation=document.validation.status,
        )
        if record.status == "done" and record.output_digest == digest:
            return outcome
        wrote = self._put_output_once(record, document.to_json_bytes(), digest)
        updated = record.model_copy(
            update={
                "status": "done",
                "review": document.review,
                "validation_status": document.validation.status,
                "output_digest": digest,
                "updated_at": document.processed_at,
                "raw_keys": _with(record.raw_keys, raw_key),
                "reason": None,
            }
        )
        self.storage.put_record(updated, previous_status=record.status)
        if not wrote:
            return outcome  # "unchanged": a concurrent delivery wrote this very document a moment ago
        log_state_change(
            "output_written",
            output_key=record.output_key,
            review=document.review,
            validation=document.validation.status,
        )
        if record.status != "done":  # the first output of this submission (a review change writes again)
            self.services.metrics.document_completed(document.validation.status, document.review)
            elapsed = (self.now() - parse_iso(record.submitted_at)).total_seconds()
            self.services.metrics.submission_to_output_seconds(elapsed)
        return outcome.model_copy(update={"outcome": "written"})

    def _put_output_once(self, record: LedgerRecord, body: bytes, digest: str) -> bool:
        """Write the output with a conditional PUT; False when it already holds this document.

        Several deliveries of one webhook can race (repeats, two deployments): S3 lets exactly one
        conditional write through, and the others find the same content there and write nothing, so
        whoever listens to the output bucket sees one write. A first completion tries If-None-Match (one
        request); otherwise the current output is read and replaced only if unchanged since."""
        expected: str | None = None  # None: "only if absent"
        for attempt in range(OUTPUT_WRITE_ATTEMPTS):
            if attempt > 0 or record.output_digest is not None:
                current = self.storage.read_output(record.output_key)
                if current is not None and _output_digest(current[0]) == digest:
                    return False
                expected = current[1] if current else None
            if self.storage.put_output(record.output_key, body, if_match=expected):
                return True
            time.sleep(0.05 * attempt)
        raise StorageUnavailable(f"{record.output_key} kept changing under concurrent writers; retry later")

    def _should_auto_approve(self, record: LedgerRecord, document: NormalizedDocument) -> bool:
        if not self.settings.auto_approve or document.review != "pending":
            return False
        if document.validation.status != "passed" or not document.fields:
            return False
        rules = self.services.rules
        for label, value in document.fields.items():
            rule = rules.fields.get(label) if rules else None
            bar = rule.min_confidence if rule and rule.min_confidence is not None else None
            bar = self.settings.auto_approve_min_confidence if bar is None else bar
            if value.confidence is None or value.confidence < bar:
                return False
        return True

    def _auto_approve(self, document: NormalizedDocument) -> NormalizedDocument:
        file_id = document.nanonets.request_file_id
        try:
            self.nanonets.approve(file_id)
        except NanonetsError as error:
            log.warning(
                "auto-approve failed; left pending", extra={"request_file_id": file_id, "error": str(error)}
            )
            return document
        return document.model_copy(update={"review": "auto_approved"})

    # ================= quarantine =================

    def quarantine(
        self,
        *,
        kind: QuarantineKind,
        code: str,
        reason: str,
        raw_key: str | None = None,
        request_file_id: str | None = None,
        source: SourceRef | None = None,
        quarantine_id: str | None = None,
        details: dict[str, object] | None = None,
    ) -> QuarantineRecord:
        now = self.now()
        record = QuarantineRecord(
            id=quarantine_id or f"{now.strftime('%Y%m%dT%H%M%S')}-{kind}-{_short_hash(raw_key, source, now)}",
            kind=kind,
            code=code,
            reason=reason,
            received_at=iso(now),
            raw_key=raw_key,
            request_file_id=request_file_id,
            source=source,
            details=dict(details or {}),
        )
        self.storage.put_quarantine(record)
        self.services.metrics.document_quarantined(code)
        log_state_change(
            "quarantined",
            level=logging.WARNING,
            quarantine_id=record.id,
            code=code,
            request_file_id=request_file_id,
        )
        return record


def record_log_ids(record: LedgerRecord) -> dict[str, str | None]:
    """The ids every log line about this submission carries (service.logs.log_context)."""
    return {
        "bucket": record.source.bucket,
        "key": record.source.key,
        "version_token": record.source_token,
        "request_file_id": record.request_file_id,
        "submitted_at": record.submitted_at,
    }


def submission_quarantine_id(digest: str, token: str) -> str:
    return f"submission-{digest[:24]}-{hashlib.sha256(token.encode()).hexdigest()[:12]}"


def decode_json(body: bytes) -> object:
    """JSON or PayloadRejected('not_json'); deep nesting is rejected rather than crashing the parser."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadRejected("not_json", f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise PayloadRejected("not_json", "the body is JSON nested too deeply to parse") from None


def _with(items: list[str], item: str) -> list[str]:
    return items if item in items else [*items, item]


def _short_hash(raw_key: str | None, source: SourceRef | None, now: datetime) -> str:
    seed = (
        f"{raw_key}|{source.model_dump_json() if source else ''}|{now.isoformat()}|{time.perf_counter_ns()}"
    )
    return hashlib.sha256(seed.encode()).hexdigest()[:12]
