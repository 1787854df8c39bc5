"""What a reviewer can do to a document: edit a field, approve, reject; and pushing that to Nanonets.

Every action follows one order, so nothing is lost whoever else is writing:

1. the decision goes into the overrides record (If-Match; on a conflict, read again and redo);
2. the audit record is written (a new object, never replaced): the decision is now durable and accounted for;
3. the output is rewritten: read it and its ETag, read the overrides again, apply them, PUT with If-Match
   (a conflict means someone wrote in between: start this step again). One write per change; none when the
   output already says it. The completion use case follows the same read-output-then-overrides order, so a
   webhook racing the console cannot write a document without the console's edit;
4. the ledger record and the attention index follow the new output;
5. with REVIEW_PUSH_TO_NANONETS, the correction and approval are sent to Nanonets; a failure is kept in the
   overrides as a pending push (and a marker), shown on the page and retried by `retry_pending_pushes`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from service.core.digest import document_digest
from service.core.routes import Routes
from service.core.rules import Rules
from service.errors import NanonetsError, StorageUnavailable
from service.logs import log_state_change
from service.models.document import NormalizedDocument
from service.models.ledger import LedgerRecord, utc_iso
from service.ports import Clock, Ledger, Ocr, Outputs, PushRetries
from service.review.attention import AttentionIndex, attention_reasons
from service.review.models import AuditAction, AuditRecord, Decision, Overrides
from service.review.overrides import (
    MAX_VALUE_CHARS,
    apply_overrides,
    editable_labels,
    with_decision,
    with_field_edit,
    with_pending_push,
)
from service.review.store import ReviewRecords

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 5
MAX_REASON_CHARS = 500


class NotReviewable(Exception):
    """No such document, or nothing to act on yet (no output)."""


class ActionRefused(Exception):
    """The request makes no sense for this document (unknown field, no reason ...); a sentence says why."""


class ActionResult(BaseModel):
    document: NormalizedDocument
    wrote_output: bool
    push_error: str | None = None


def _own_output(record: LedgerRecord, body: bytes) -> NormalizedDocument:
    """The output, if it is still this submission's: a newer version of the source writes the same key."""
    document = NormalizedDocument.model_validate_json(body)
    if document.nanonets.request_file_id != record.request_file_id:
        raise NotReviewable("newer content of the same source replaced this document: review that one")
    return document


# (the record before the change, the document written, its digest) -> the analytics rows' key, None when
# they are behind
OutputWritten = Callable[[LedgerRecord, NormalizedDocument, str], str | None]


@dataclass
class ReviewActions:
    ledger: Ledger  # the service's own ledger and outputs: the console writes the same records
    outputs: Outputs
    records: ReviewRecords
    attention: AttentionIndex
    ocr: Ocr
    routes: Routes  # a record's route has the rules its edits are validated by
    clock: Clock
    push_to_nanonets: bool = False
    min_confidence: float = 0.8
    # Downstream of every output the console writes (Downstream.output_written: the `document.reviewed`
    # or completion event, and the analytics rows), as for one a webhook writes.
    on_output_written: OutputWritten | None = None

    def rules_of(self, record: LedgerRecord) -> Rules | None:
        """The rules of the record's route: the ones completion validated the document by."""
        route = self.routes.recorded(record.route, record.source.key)
        return route.rules if route else None

    # ---- the three actions ----

    def edit_field(self, request_file_id: str, label: str, value: str, *, by: str) -> ActionResult:
        record, document = self._reviewable(request_file_id)
        if label not in editable_labels(document, self.rules_of(record)):
            raise ActionRefused(f"the document has no field {label!r}")
        if len(value) > MAX_VALUE_CHARS:
            raise ActionRefused(f"a value is at most {MAX_VALUE_CHARS} characters")
        current = document.fields.get(label)
        before = current.value if current else None
        at = utc_iso(self.clock())
        self._change_overrides(
            request_file_id, lambda o: with_field_edit(o, label, value, current, by=by, at=at)
        )
        self._audit(record, "edit", by=by, at=at, field=label, before=before, after=value)
        return self._finish(record, by=by, push_fields={label: value}, push_approve=False)

    def approve(self, request_file_id: str, *, by: str) -> ActionResult:
        return self._decide(request_file_id, "approved", reason=None, by=by)

    def reject(self, request_file_id: str, reason: str, *, by: str) -> ActionResult:
        reason = " ".join(reason.split())
        if not reason:
            raise ActionRefused("a rejection needs a reason")
        if len(reason) > MAX_REASON_CHARS:
            raise ActionRefused(f"a reason is at most {MAX_REASON_CHARS} characters")
        return self._decide(request_file_id, "rejected", reason=reason, by=by)

    def _decide(self, request_file_id: str, review: Decision, *, reason: str | None, by: str) -> ActionResult:
        record, document = self._reviewable(request_file_id)
        at = utc_iso(self.clock())
        self._change_overrides(
            request_file_id, lambda o: with_decision(o, review, reason=reason, by=by, at=at)
        )
        action: AuditAction = "approve" if review == "approved" else "reject"
        self._audit(record, action, by=by, at=at, before=document.review, after=review, reason=reason)
        return self._finish(record, by=by, push_fields={}, push_approve=review == "approved")

    # ---- the steps every action shares ----

    def _reviewable(self, request_file_id: str) -> tuple[LedgerRecord, NormalizedDocument]:
        record = self.ledger.get(request_file_id)
        if record is None:
            raise NotReviewable("no such document")
        found = self.outputs.read(record.output_key)
        if found is None:
            raise NotReviewable("this document has no output yet: there is nothing to review")
        return record, _own_output(record, found.body)

    def _change_overrides(self, request_file_id: str, change: Callable[[Overrides], Overrides]) -> Overrides:
        for _ in range(WRITE_ATTEMPTS):
            overrides, etag = self.records.read_overrides(request_file_id)
            updated = change(overrides)
            if updated == overrides and etag is not None:
                return overrides
            if self.records.write_overrides(updated, etag):
                return updated
        raise StorageUnavailable(f"the review record of {request_file_id} kept changing; retry")

    def _audit(
        self, record: LedgerRecord, action: AuditAction, *, by: str, at: str, **details: object
    ) -> None:
        audit = AuditRecord.model_validate(
            {
                "request_file_id": record.request_file_id,
                "action": action,
                "by": by,
                "at": at,
                "output_key": record.output_key,
                **details,
            }
        )
        self.records.append_audit(audit, self.clock())
        log.info(
            "review action",
            extra={
                "request_file_id": record.request_file_id,
                "action": action,
                "by": by,
                "field": audit.field,
            },
        )

    def _finish(
        self, record: LedgerRecord, *, by: str, push_fields: dict[str, str], push_approve: bool
    ) -> ActionResult:
        document, wrote, overrides = self.rewrite_output(record)
        if wrote:
            rows_key = None
            if self.on_output_written is not None:
                rows_key = self.on_output_written(record, document, document_digest(document))
            log_state_change(
                "output_written",
                output_key=record.output_key,
                rows_key=rows_key,
                review=document.review,
                validation=document.validation.status,
                request_file_id=record.request_file_id,
                by=by,
            )
        self._follow_ledger(record.request_file_id, document)
        self.attention.mark(
            record.request_file_id,
            attention_reasons(
                document, rules=self.rules_of(record), min_confidence=self.min_confidence, overrides=overrides
            ),
            codes=[issue.code for issue in document.validation.issues],
            source=record.source,
            output_key=record.output_key,
            route=record.route,
        )
        error = self._push(record, overrides, fields=push_fields, approve=push_approve, by=by)
        return ActionResult(document=document, wrote_output=wrote, push_error=error)

    def rewrite_output(self, record: LedgerRecord) -> tuple[NormalizedDocument, bool, Overrides]:
        """Apply the current overrides to the current output: (document, written?, overrides)."""
        for _ in range(WRITE_ATTEMPTS):
            found = self.outputs.read(record.output_key)
            if found is None:
                raise NotReviewable("the output disappeared")
            current = _own_output(record, found.body)
            overrides, _ = self.records.read_overrides(record.request_file_id)  # after the ETag: see above
            updated = apply_overrides(current, overrides, self.rules_of(record))
            if document_digest(updated) == document_digest(current):
                return current, False, overrides
            updated = updated.model_copy(update={"processed_at": utc_iso(self.clock())})
            if self.outputs.write(record.output_key, updated.to_json_bytes(), if_match=found.etag):
                return updated, True, overrides
        raise StorageUnavailable(f"{record.output_key} kept changing under concurrent writers; retry")

    def _follow_ledger(self, request_file_id: str, document: NormalizedDocument) -> None:
        """The ledger says what the output says, so a repeated webhook finds the same digest and writes
        nothing, and a late one merges its review with the console's."""
        record = self.ledger.get(request_file_id)
        if record is None:
            return
        changed = {
            "review": document.review,
            "validation_status": document.validation.status,
            "output_digest": document_digest(document),
        }
        if any(getattr(record, name) != value for name, value in changed.items()):
            updated = record.model_copy(update={**changed, "updated_at": self.clock()})
            self.ledger.put(updated, previous_status=record.status)

    # ---- Nanonets ----

    def _push(
        self, record: LedgerRecord, overrides: Overrides, *, fields: dict[str, str], approve: bool, by: str
    ) -> str | None:
        """Send corrections and approvals to Nanonets; None when nothing is left waiting, else the error."""
        waiting = overrides.pending_push
        if not self.push_to_nanonets or (not fields and not approve and waiting is None):
            return None
        all_fields = {**(waiting.fields if waiting else {}), **fields}
        all_approve = approve or (waiting.approve if waiting else False)
        file_id = record.request_file_id
        at = utc_iso(self.clock())
        try:
            if all_fields:
                self.ocr.update_fields(file_id, all_fields)
            if all_approve:
                self.ocr.approve(file_id)
        except NanonetsError as error:
            message = str(error)
            self._change_overrides(
                file_id,
                lambda o: with_pending_push(o, fields=all_fields, approve=all_approve, error=message, at=at),
            )
            self.records.mark_push_pending(file_id)
            self._audit(record, "push_failed", by=by, at=at, reason=message)
            log.warning("push to Nanonets failed", extra={"request_file_id": file_id, "error": message})
            return message
        if waiting is not None:
            self._change_overrides(file_id, lambda o: o.model_copy(update={"pending_push": None}))
            self.records.clear_push_pending(file_id)
        pushed = ", ".join(sorted(all_fields)) + (" and approval" if all_approve else "")
        self._audit(record, "push", by=by, at=at, reason=f"sent to Nanonets: {pushed.strip(', ')}")
        return None

    def retry_pending_pushes(self, limit: int = 100) -> PushRetries:
        """Send again what could not reach Nanonets (reconcile calls it). Costs O(pending pushes)."""
        sent = failed = 0
        for file_id in self.records.pending_pushes(limit):
            record = self.ledger.get(file_id)
            overrides, _ = self.records.read_overrides(file_id)
            if record is None or overrides.pending_push is None:
                self.records.clear_push_pending(file_id)
                continue
            error = self._push(record, overrides, fields={}, approve=False, by="retry")
            failed += error is not None
            sent += error is None
        return PushRetries(sent=sent, failed=failed)
