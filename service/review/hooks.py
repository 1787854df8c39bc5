"""The review console as completion, quarantine and reconcile see it: one object implementing the ports
`ReviewDecisions`, `AttentionQueue` and `ReviewPushes` (service/ports.py), built by `bootstrap.build`.

    document = hooks.apply(record, document)            # CompleteFile: before the digest, again after ETag
    hooks.document_written(record, document)            # CompleteFile: after the output is written
    hooks.superseded(record)                            # CompleteFile: newer content of the source won
    hooks.quarantined(quarantine_record)                # Quarantiner.put
    hooks.retry_pending(limit)                          # Recovery.reconcile

`apply` runs whether or not the console is enabled (one GET, a 404 for documents nobody reviewed): turning the
console off must not let a late webhook undo the edits it made. The queue is kept only while it is enabled,
and pushes are retried only with REVIEW_PUSH_TO_NANONETS.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.adapters.s3.bucket import StateBucket
from service.core.routes import Routes
from service.models.document import NormalizedDocument
from service.models.ledger import LedgerRecord, QuarantineRecord
from service.ports import Clock, ObjectStore, Ocr, PushRetries, StateStores
from service.review.actions import OutputWritten, ReviewActions
from service.review.attention import SAFE_ID, AttentionIndex, attention_reasons
from service.review.overrides import apply_overrides
from service.review.store import ReviewRecords
from service.settings import Settings


@dataclass
class ReviewHooks:
    actions: ReviewActions  # records, queue index, ledger and outputs; shared with the console's pages
    keeps_queue: bool  # REVIEW_ENABLED

    @classmethod
    def build(
        cls,
        settings: Settings,
        objects: ObjectStore,
        stores: StateStores,
        ocr: Ocr,
        routes: Routes,
        clock: Clock,
        on_output_written: OutputWritten | None = None,
    ) -> ReviewHooks:
        state = StateBucket(objects, settings.state_bucket_name, settings.state_prefix)
        actions = ReviewActions(
            ledger=stores.ledger,
            outputs=stores.outputs,
            records=ReviewRecords(state),
            attention=AttentionIndex(state, clock),
            ocr=ocr,
            routes=routes,
            clock=clock,
            push_to_nanonets=settings.review_push_to_nanonets,
            min_confidence=settings.auto_approve_min_confidence,
            on_output_written=on_output_written,
        )
        return cls(actions=actions, keeps_queue=settings.review_enabled)

    # ---- ReviewDecisions ----

    def apply(self, record: LedgerRecord, document: NormalizedDocument) -> NormalizedDocument:
        """The document with the console's edits and decision on top (unchanged when there are none),
        validated again by the rules of the record's route."""
        if not SAFE_ID.fullmatch(record.request_file_id):
            return document  # never a document of the console: its URLs refuse such ids
        overrides, _ = self.actions.records.read_overrides(record.request_file_id)
        return apply_overrides(document, overrides, self.actions.rules_of(record))

    # ---- AttentionQueue ----

    def document_written(self, record: LedgerRecord, document: NormalizedDocument) -> None:
        """Put the document in the queue, or take it out, by what its new output says."""
        if not self.keeps_queue:
            return
        actions = self.actions
        actions.attention.take_output(record.request_file_id, record.output_key)
        # Only a rejection can be the console's own (settled) or Nanonets' (needs a person): look then.
        overrides = (
            actions.records.read_overrides(record.request_file_id)[0]
            if document.review == "rejected"
            else None
        )
        reasons = attention_reasons(
            document,
            rules=actions.rules_of(record),
            min_confidence=actions.min_confidence,
            overrides=overrides,
        )
        actions.attention.mark(
            record.request_file_id,
            reasons,
            codes=[issue.code for issue in document.validation.issues],
            source=record.source,
            output_key=record.output_key,
            route=record.route,
        )

    def superseded(self, record: LedgerRecord) -> None:
        """Newer content of the source has its own submission: this one needs nobody any more."""
        if self.keeps_queue:
            self.actions.attention.clear(record.request_file_id)

    def quarantined(self, quarantined: QuarantineRecord) -> None:
        """A submission of ours that failed (pending too long, unknown to Nanonets) needs a person."""
        file_id = quarantined.request_file_id
        if not self.keeps_queue or file_id is None or not SAFE_ID.fullmatch(file_id):
            return
        record = self.actions.ledger.get(file_id)
        if record is None:
            return  # not ours (an unknown request_file_id): nothing a reviewer could open
        self.actions.attention.mark(
            file_id,
            attention_reasons(None, quarantine=quarantined),
            source=record.source,
            output_key=record.output_key,
            route=record.route,
            detail=quarantined.reason,
        )

    # ---- ReviewPushes ----

    def retry_pending(self, limit: int) -> PushRetries:
        if not self.actions.push_to_nanonets:
            return PushRetries()
        return self.actions.retry_pending_pushes(limit)
