"""What the completion and quarantine use cases call, so console edits survive and the queue stays current.

    hooks = ReviewHooks.from_settings(settings, rules)
    document = hooks.apply(request_file_id, document)   # before the digest and the conditional write
    hooks.after_output(record, document, now=now)        # after the output is written
    hooks.after_quarantine(quarantine_record, ledger_record, now=now)
    hooks.after_superseded(ledger_record)                # when newer content of the source wins

`apply` runs whether or not the console is enabled (one GET, a 404 for documents nobody reviewed): turning the
console off must not let a late webhook undo the edits it made. The queue is kept only when it is enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from service.adapters.storage import build_s3_client
from service.core.rules import Rules
from service.models.document import NormalizedDocument
from service.models.ledger import LedgerRecord, QuarantineRecord
from service.review.attention import SAFE_ID, AttentionIndex, attention_reasons
from service.review.overrides import apply_overrides
from service.review.store import ObjectStore, ReviewRecords

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from service.settings import Settings


@dataclass
class ReviewHooks:
    records: ReviewRecords
    attention: AttentionIndex | None  # None: the console is off, no queue is kept
    rules: Rules | None
    min_confidence: float

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        rules: Rules | None,
        s3: S3Client | None = None,
    ) -> ReviewHooks:
        state = ObjectStore(s3 or build_s3_client(settings), settings.state_bucket_name)
        attention = AttentionIndex(state, settings.state_prefix) if settings.review_enabled else None
        return cls(
            records=ReviewRecords(state, settings.state_prefix),
            attention=attention,
            rules=rules,
            min_confidence=settings.auto_approve_min_confidence,
        )

    @property
    def keeps_queue(self) -> bool:
        return self.attention is not None

    def apply(self, request_file_id: str, document: NormalizedDocument) -> NormalizedDocument:
        """The document with the console's edits and decision on top (unchanged when there are none)."""
        if not SAFE_ID.fullmatch(request_file_id):
            return document
        overrides, _ = self.records.read_overrides(request_file_id)
        return apply_overrides(document, overrides, self.rules)

    def after_output(self, record: LedgerRecord, document: NormalizedDocument, *, now: datetime) -> None:
        """Put the document in the queue, or take it out, by what its new output says."""
        if self.attention is None:
            return
        self.attention.take_output(record.request_file_id, record.output_key)
        # Only a rejection can be the console's own (settled) or Nanonets' (needs a person): look then.
        overrides = (
            self.records.read_overrides(record.request_file_id)[0] if document.review == "rejected" else None
        )
        reasons = attention_reasons(
            document, rules=self.rules, min_confidence=self.min_confidence, overrides=overrides
        )
        self.attention.mark(
            record.request_file_id,
            reasons,
            codes=[issue.code for issue in document.validation.issues],
            source=record.source,
            output_key=record.output_key,
            now=now,
        )

    def after_superseded(self, record: LedgerRecord) -> None:
        """Newer content of the source has its own submission: this one needs nobody any more."""
        if self.attention is not None:
            self.attention.clear(record.request_file_id)

    def after_quarantine(
        self, quarantined: QuarantineRecord, record: LedgerRecord | None, *, now: datetime
    ) -> None:
        """A submission of ours that failed (pending too long, unknown to Nanonets) needs a person."""
        if self.attention is None or record is None:
            return
        self.attention.mark(
            record.request_file_id,
            attention_reasons(None, quarantine=quarantined),
            source=record.source,
            output_key=record.output_key,
            detail=quarantined.reason,
            now=now,
        )
