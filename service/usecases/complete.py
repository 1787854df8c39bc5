"""Complete: a prediction for one request_file_id becomes one normalized output, validated by the rules of
the route the file was submitted by (its ledger record names the route and its model).

Idempotent, keyed by request_file_id: the written document's digest (without its time) is kept in the
ledger, so a repeated webhook writes nothing; a late webhook for an older version of the source is marked
superseded instead of overwriting the newer output; concurrent deliveries race on a conditional PUT, so
whoever listens to the output bucket sees one write. Every output written goes downstream (a completion
event, the analytics rows) before the ledger moves on, so a crash in between produces them again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from service.core.digest import document_digest
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload_bytes, parse_retrieval
from service.core.routes import Routes
from service.core.rules import Rules
from service.errors import PayloadRejected
from service.logs import log_context, log_state_change
from service.models.document import NormalizedDocument, Review
from service.models.ledger import LedgerRecord, QuarantineKind
from service.models.nanonets import FilePrediction
from service.ports import DEFAULT_ROUTE, AttentionQueue, Clock, Metrics, Ocr, ReviewDecisions, StateStores
from service.usecases.auto_approve import AutoApproval
from service.usecases.correlation import record_context
from service.usecases.downstream import Downstream
from service.usecases.outcomes import FileOutcome, WebhookResult
from service.usecases.output_write import OutputWriter
from service.usecases.overtaken import RECORD_WAIT_SECONDS, OvertakenWebhooks
from service.usecases.quarantine import Quarantiner, unknown_file_quarantine_id
from service.usecases.submit import SubmitDocument


@dataclass(frozen=True)
class CompleteConfig:
    verify_by_fetch: bool = False
    auto_approve: bool = False
    auto_approve_min_confidence: float = 0.8
    record_wait_seconds: float = RECORD_WAIT_SECONDS


class CompleteFile:
    def __init__(
        self,
        stores: StateStores,
        ocr: Ocr,
        submit: SubmitDocument,
        routes: Routes,
        config: CompleteConfig,
        quarantine: Quarantiner,
        downstream: Downstream,
        clock: Clock,
        *,
        decisions: ReviewDecisions,
        attention: AttentionQueue,
        metrics: Metrics,
    ) -> None:
        self._stores = stores
        self._ocr = ocr
        self._routes = routes
        self._config = config
        self._quarantine = quarantine
        self._downstream = downstream
        self._clock = clock
        self._decisions = decisions  # the review console's edits and decisions, laid over every output
        self._attention = attention  # the console's queue of documents that need a person
        self._metrics = metrics
        self._overtaken = OvertakenWebhooks(stores, submit, config.record_wait_seconds)
        self._outputs = OutputWriter(stores, decisions)
        self._auto_approval = AutoApproval(
            ocr, enabled=config.auto_approve, min_confidence=config.auto_approve_min_confidence
        )

    # ---- entry: a webhook body ----

    def receive_webhook(self, body: bytes) -> WebhookResult:
        """Archive first, then parse; an unknown shape is quarantined and rejected (PayloadRejected)."""
        archived = self._stores.raw.archive(body)
        self._stores.raw.note_webhook(self._clock())
        raw_key = archived.raw_key
        files = self.parse_archived(body, raw_key, kind="webhook")
        return WebhookResult(
            raw_key=raw_key,
            files=[self.complete(fp, raw_key, redelivered=archived.seen_before) for fp in files],
        )

    def parse_archived(self, body: bytes, raw_key: str, *, kind: QuarantineKind) -> list[FilePrediction]:
        try:
            return parse_payload_bytes(body)
        except PayloadRejected as rejected:
            self._quarantine.put(kind=kind, code=rejected.code, reason=rejected.message, raw_key=raw_key)
            raise

    def fetch(self, request_file_id: str, model_id: str | None = None) -> tuple[FilePrediction, str]:
        """Ask Nanonets for the file's prediction (of its route's model); the answer is archived before it
        is parsed."""
        data = self._ocr.fetch_file(request_file_id, model_id)
        raw_key = self._stores.raw.archive(json.dumps(data, sort_keys=True).encode()).raw_key
        try:
            return parse_retrieval(data, request_file_id), raw_key
        except PayloadRejected as rejected:
            self._quarantine.put(kind="webhook", code=rejected.code, reason=rejected.message, raw_key=raw_key)
            raise

    # ---- the use case ----

    def complete(
        self, prediction: FilePrediction, raw_key: str, *, fetched: bool = False, redelivered: bool = False
    ) -> FileOutcome:
        """`redelivered`: the archive already held these exact bytes (a webhook sent again)."""
        with log_context(request_file_id=prediction.request_file_id, route=DEFAULT_ROUTE):
            return self._complete(prediction, raw_key, fetched=fetched, redelivered=redelivered)

    def _complete(
        self, prediction: FilePrediction, raw_key: str, *, fetched: bool, redelivered: bool
    ) -> FileOutcome:
        file_id = prediction.request_file_id
        if not prediction.ready:
            return _deferred(file_id)
        record = self._stores.ledger.get(file_id)
        if redelivered and record is not None and _completed_from(record, raw_key):
            return _unchanged(record)
        if self._config.verify_by_fetch and not fetched:
            # The body is only a notice: what we write comes from the API, so a forged body injects nothing.
            prediction, raw_key = self.fetch(file_id, self._model_of(record, prediction))
            if not prediction.ready:
                return _deferred(file_id)
        record = record or self._overtaken.record_for(prediction)
        if record is None:
            return self._quarantine_unknown(prediction, raw_key)
        with record_context(record):
            if record.status == "superseded":
                return self._mark_superseded(record, raw_key)
            return self._write_output(record, prediction, raw_key)

    def _model_of(self, record: LedgerRecord | None, prediction: FilePrediction) -> str | None:
        """The model a file was submitted to: its record's, else that of the route of the key its metadata
        names (a webhook that overtook its record), else None (the configured model)."""
        if record is not None:
            return record.model_id
        key = (prediction.request_metadata or {}).get("key")
        route = self._routes.route_for(key) if isinstance(key, str) else None
        return route.model_id if route else None

    def _rules_of(self, record: LedgerRecord) -> Rules | None:
        """The rules of the record's route; a route gone from the routes file since: the key's route now."""
        route = self._routes.recorded(record.route, record.source.key)
        return route.rules if route else None

    def _quarantine_unknown(self, prediction: FilePrediction, raw_key: str) -> FileOutcome:
        reason = "request_file_id was never submitted by this deployment"
        self._quarantine.put(
            kind="webhook",
            code="unknown_request_file_id",
            reason=reason,
            raw_key=raw_key,
            request_file_id=prediction.request_file_id,
            quarantine_id=unknown_file_quarantine_id(prediction.request_file_id),
        )
        return FileOutcome(request_file_id=prediction.request_file_id, outcome="quarantined", reason=reason)

    def _mark_superseded(self, record: LedgerRecord, raw_key: str) -> FileOutcome:
        reason = "the source object was overwritten by newer content; its own submission wins"
        if record.status != "superseded":
            now = self._clock()
            updated = record.model_copy(
                update={
                    "status": "superseded",
                    "reason": reason,
                    "updated_at": now,
                    "raw_keys": _with(record.raw_keys, raw_key),
                }
            )
            self._stores.ledger.put(updated, previous_status=record.status)
            self._attention.superseded(updated)
            self._metrics.document_superseded()
            log_state_change("superseded", at=now, reason=reason)
        return FileOutcome(request_file_id=record.request_file_id, outcome="superseded", reason=reason)

    def _write_output(self, record: LedgerRecord, prediction: FilePrediction, raw_key: str) -> FileOutcome:
        now = self._clock()
        rules = self._rules_of(record)
        document = normalize_file(
            prediction,
            source=record.source,
            model_id=record.model_id,
            rules=rules,
            review=merge_review(record.review, prediction.review),
            processed_at=now,
        )
        normalized_document, normalized = document, document_digest(document)

        def digest_of(written: NormalizedDocument) -> str:
            # The digest of a large document costs about as much as reading its body: not twice for one.
            return normalized if written is normalized_document else document_digest(written)

        outcome = _unchanged(record)
        if record.status == "done" and record.normalized_digest == normalized:
            return outcome  # a repeat: what this prediction makes was written, and what came after stays
        if record.output_digest is not None:
            # A person's edit or decision in the review console outlives any later webhook (the console only
            # acts on a written output: before the first one there is nothing to read).
            document = self._decisions.apply(record, document)
        document = self._auto_approval.apply(document, rules, record.model_id)
        outcome = outcome.model_copy(
            update={"review": document.review, "validation": document.validation.status}
        )
        if record.status == "done" and record.output_digest == digest_of(document):
            return outcome
        written = self._outputs.write_once(record, document)
        if written.superseded:
            return self._mark_superseded(record, raw_key)
        document, record = written.document, written.record
        digest = digest_of(document)
        outcome = outcome.model_copy(
            update={"review": document.review, "validation": document.validation.status}
        )
        # Also when a concurrent delivery (or this one before a crash) wrote the same document: the ledger
        # has not moved on, so nobody may have produced the event and the rows yet (the event id is stable).
        rows_key = self._downstream.output_written(record, document, digest)
        updated = record.model_copy(
            update={
                "status": "done",
                "review": document.review,
                "validation_status": document.validation.status,
                "output_digest": digest,
                "normalized_digest": normalized,
                "updated_at": now,
                "raw_keys": _with(record.raw_keys, raw_key),
                "reason": None,
            }
        )
        self._stores.ledger.put(updated, previous_status=record.status)
        self._attention.document_written(updated, document)
        if not written.wrote:
            return outcome  # "unchanged": a concurrent delivery wrote this very document a moment ago
        log_state_change(
            "output_written",
            at=now,
            output_key=record.output_key,
            rows_key=rows_key,
            review=document.review,
            validation=document.validation.status,
        )
        if record.status != "done":  # the submission's first output (a review change writes again)
            self._metrics.document_completed(document.validation.status, document.review)
            self._metrics.submission_to_output_seconds((now - record.submitted_at).total_seconds())
        return outcome.model_copy(update={"outcome": "written"})


def merge_review(current: Review | None, incoming: Review) -> Review:
    """A later inference webhook never undoes a review; our own approval echoed back stays auto."""
    if incoming == "rejected":
        return "rejected"
    if incoming == "approved":
        return "auto_approved" if current == "auto_approved" else "approved"
    if current in ("approved", "rejected", "auto_approved"):
        return current
    return "pending"


def _deferred(request_file_id: str) -> FileOutcome:
    return FileOutcome(request_file_id=request_file_id, outcome="deferred", reason="prediction not ready")


def _completed_from(record: LedgerRecord, raw_key: str) -> bool:
    """The record's output was written from this very body: sent again, it is a repeat, known without
    normalizing it (on a ten-page body, that is most of a repeat's own CPU). Not so under VERIFY_BY_FETCH:
    there the record keeps the fetched bodies' keys, never a webhook's. `replay`, which re-applies changed
    rules to archived bodies, goes through `complete` without `redelivered` and normalizes as before."""
    return record.status == "done" and raw_key in record.raw_keys


def _unchanged(record: LedgerRecord) -> FileOutcome:
    return FileOutcome(
        request_file_id=record.request_file_id,
        outcome="unchanged",
        output_key=record.output_key,
        review=record.review,
        validation=record.validation_status,
    )


def _with(items: list[str], item: str) -> list[str]:
    return items if item in items else [*items, item]
