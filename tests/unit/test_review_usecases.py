"""The review console in the use cases, on in-memory adapters: edits laid over every later output (console
on or off, and when an edit races a webhook), the queue kept by completion and quarantine, and reconcile
sending failed pushes again."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from devtools.stack import REPO
from service.errors import NanonetsUnavailable
from service.review.actions import NotReviewable, ReviewActions
from service.review.attention import QueueFilter
from tests.fakes import FakePublisher, InMemoryObjectStore
from tests.unit.usecase_kit import OUTPUT, Kit, box, make_kit, two_routes, webhook

RULES = str(REPO / "samples" / "rules" / "fuel-receipts.yaml")
CONSOLE = {"validation_rules": RULES, "review_enabled": True}


def receipt(file_id: str, *, plate: str = "4821 KLM", total: str = "62,40") -> bytes:
    """A webhook of one receipt page; the default plate fails the rules' pattern."""
    boxes = [box("fecha", "04/11/2026", 0.97), box("total", total, 0.95), box("matricula", plate, 0.91)]
    page = {"request_file_id": file_id, "page": 0, "prediction": boxes}
    return json.dumps({"message": "Success", "result": [page]}).encode()


def completed(kit: Kit, key: str = "incoming/fleet/r.pdf") -> tuple[str, str]:
    """(request_file_id, output key) of a receipt submitted and completed by its webhook."""
    file_id = kit.service.submit.submit(kit.drop(key)).request_file_id
    assert file_id
    kit.service.complete.receive_webhook(receipt(file_id))
    record = kit.service.stores.ledger.get(file_id)
    assert record is not None
    return file_id, record.output_key


def actions(kit: Kit) -> ReviewActions:
    return kit.service.review.actions


def queued(kit: Kit, **query: Any) -> list[str]:
    return [e.request_file_id for e in actions(kit).attention.page(QueueFilter(**query)).entries]


def test_an_edit_outlives_later_webhooks_even_with_the_console_off() -> None:
    kit = make_kit(**CONSOLE)
    file_id, output = completed(kit)
    assert kit.output(output)["validation"]["status"] == "failed"
    actions(kit).edit_field(file_id, "matricula", "4821-KLM", by="ana")

    console_off = kit.rebuild(review_enabled=False)
    repeated = console_off.complete.receive_webhook(receipt(file_id))
    assert repeated.files[0].outcome == "unchanged"
    console_off.complete.receive_webhook(receipt(file_id, total="70,00"))  # corrected later in Nanonets

    document = kit.output(output)
    assert document["fields"]["total"]["value"] == "70,00"
    plate = document["fields"]["matricula"]
    assert (plate["value"], plate["predicted"], plate["source"]) == ("4821-KLM", "4821 KLM", "console")
    assert document["validation"]["status"] == "passed"


def test_a_rejection_in_the_console_wins_over_a_later_approval_in_nanonets() -> None:
    kit = make_kit(**CONSOLE)
    file_id, output = completed(kit)
    actions(kit).reject(file_id, "another vehicle's ticket", by="ana")
    boxes = json.loads(receipt(file_id))["result"][0]["prediction"]
    approved = {"moderated_images": [{"request_file_id": file_id, "page": 0, "predicted_boxes": boxes}]}
    kit.service.complete.receive_webhook(json.dumps(approved).encode())
    assert kit.output(output)["review"] == "rejected"


class EditDuringOutputRead(InMemoryObjectStore):
    """S3 where a reviewer saves an edit at the moment a webhook's completion reads the current output:
    after the completion read the console's decisions once, before it writes."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.edit: Any = None

    def get(self, bucket: str, key: str) -> Any:
        if self.edit is not None and key.startswith("normalized/"):
            edit, self.edit = self.edit, None
            edit()
        return super().get(bucket, key)


def test_an_edit_saved_while_a_webhook_writes_the_output_is_kept() -> None:
    kit = make_kit(**CONSOLE)
    racing = EditDuringOutputRead(clock=kit.clock)
    kit.objects = racing
    service = kit.rebuild()
    kit.service = service
    file_id, output = completed(kit)
    racing.edit = lambda: actions(kit).edit_field(file_id, "matricula", "4821-KLM", by="ana")

    service.complete.receive_webhook(receipt(file_id, total="70,00"))

    document = kit.output(output)
    assert document["fields"]["total"]["value"] == "70,00"
    assert document["fields"]["matricula"]["value"] == "4821-KLM"
    record = service.stores.ledger.get(file_id)
    assert record is not None and record.validation_status == "passed"


def test_a_document_that_needs_a_person_is_queued_until_it_is_approved() -> None:
    kit = make_kit(**CONSOLE)
    file_id, _ = completed(kit)
    assert queued(kit) == [file_id]
    assert queued(kit, code="pattern_mismatch") == [file_id]
    actions(kit).approve(file_id, by="ana")
    assert queued(kit) == []
    record = kit.service.stores.ledger.get(file_id)
    assert record is not None and record.review == "approved"


def test_no_queue_is_kept_while_the_console_is_off() -> None:
    kit = make_kit(validation_rules=RULES)
    completed(kit)
    assert kit.state("index/attention") == []


def test_a_submission_nanonets_does_not_know_is_queued_with_the_reason() -> None:
    kit = make_kit(**CONSOLE)
    file_id = kit.service.submit.submit(kit.drop("incoming/fleet/lost.pdf")).request_file_id
    assert file_id
    assert kit.service.recovery.reconcile(older_than_seconds=0, limit=10).failed == 1
    entry = actions(kit).attention.entry(file_id)
    assert entry is not None and entry.reasons == ["quarantined"]
    assert entry.detail == "Nanonets does not know this request_file_id"


def test_reconcile_sends_a_push_that_failed_again() -> None:
    kit = make_kit(**CONSOLE, review_push_to_nanonets=True)
    file_id, output = completed(kit)
    kit.ocr.fail_next.append(NanonetsUnavailable("down", status=503))
    result = actions(kit).edit_field(file_id, "matricula", "4821-KLM", by="ana")
    assert result.push_error and kit.ocr.updated == []
    assert kit.output(output)["fields"]["matricula"]["value"] == "4821-KLM"  # the edit is not lost

    summary = kit.service.recovery.reconcile(older_than_seconds=0, limit=10)

    assert (summary.review_pushes_sent, summary.review_pushes_failed) == (1, 0)
    assert kit.ocr.updated == [(file_id, {"matricula": "4821-KLM"})]
    assert kit.state("index/review-push/") == []
    assert kit.service.recovery.reconcile(older_than_seconds=0, limit=10).review_pushes_sent == 0


def test_pushes_are_not_retried_without_review_push_to_nanonets() -> None:
    kit = make_kit(**CONSOLE, review_push_to_nanonets=True)
    file_id, _ = completed(kit)
    kit.ocr.fail_next.append(NanonetsUnavailable("down", status=503))
    actions(kit).edit_field(file_id, "matricula", "4821-KLM", by="ana")
    summary = kit.rebuild(review_push_to_nanonets=False).recovery.reconcile(older_than_seconds=0, limit=10)
    assert summary.review_pushes_sent == summary.review_pushes_failed == 0
    assert kit.ocr.updated == []
    assert kit.objects.keys(OUTPUT, "_state/index/review-push/") == [f"_state/index/review-push/{file_id}"]


def test_newer_content_of_the_source_takes_the_older_submission_out_of_the_queue() -> None:
    kit = make_kit(**CONSOLE)
    older, _ = completed(kit)
    newer = kit.service.submit.submit(
        kit.drop("incoming/fleet/r.pdf", b"%PDF-1.4 scanned again")
    ).request_file_id
    assert newer and queued(kit) == [older]

    again = kit.service.complete.receive_webhook(receipt(older))  # a repeat: nothing to write, nothing read
    assert again.files[0].outcome == "unchanged" and queued(kit) == [older]
    kit.service.complete.receive_webhook(receipt(newer))
    assert queued(kit) == [newer]
    late = kit.service.complete.receive_webhook(receipt(older, total="70,00"))  # meets the newer output
    assert late.files[0].outcome == "superseded"
    assert queued(kit) == [newer]


def test_an_older_submission_cannot_act_on_the_output_newer_content_wrote() -> None:
    kit = make_kit(**CONSOLE)
    older, output = completed(kit)
    newer = kit.service.submit.submit(
        kit.drop("incoming/fleet/r.pdf", b"%PDF-1.4 scanned again")
    ).request_file_id
    assert newer
    kit.service.complete.receive_webhook(receipt(newer))
    assert queued(kit) == [newer]  # the newer output took the older one's place
    with pytest.raises(NotReviewable, match="newer content of the same source"):
        actions(kit).approve(older, by="ana")
    assert kit.output(output)["review"] == "pending"


def test_an_invoice_is_reviewed_by_its_own_route_rules_and_found_by_its_route() -> None:
    kit = make_kit(routes=two_routes(), review_enabled=True)  # receipts first, invoices second
    file_id = kit.service.submit.submit(kit.drop("incoming/invoices/f-1.pdf")).request_file_id
    assert file_id
    invoice = [box("numero_factura", "SL-1"), box("fecha", "12/11/2026"), box("proveedor", "Levante")]
    kit.service.complete.receive_webhook(webhook(file_id, boxes=[*invoice, box("total", "330,81", 0.3)]))
    assert queued(kit, route="invoices") == [file_id] and queued(kit, route="receipts") == []

    actions(kit).edit_field(file_id, "base_imponible", "273,40", by="ana")  # a field of the invoice rules
    result = actions(kit).edit_field(file_id, "total", "330,81", by="ana")  # confirmed: no longer low

    fields, validation = result.document.fields, result.document.validation
    assert (fields["base_imponible"].normalized, fields["base_imponible"].type) == (273.4, "amount")
    assert [(issue.field, issue.code) for issue in validation.issues] == [("lineas_detalle", "missing")]
    assert queued(kit, route="invoices") == [file_id]  # the invoice rules still want its lines


def test_console_actions_send_their_events_and_rewrite_the_analytics_rows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = FakePublisher()
    kit = make_kit(publisher=publisher, **CONSOLE)
    file_id, _ = completed(kit)
    assert [e.type for e in publisher.sent] == ["document.validation_failed"]
    caplog.set_level(logging.INFO, logger="service.state")
    caplog.clear()

    actions(kit).edit_field(file_id, "matricula", "4821-KLM", by="ana")
    actions(kit).approve(file_id, by="ana")

    assert [e.type for e in publisher.sent] == [
        "document.validation_failed",
        "document.completed",  # the edit made it pass
        "document.reviewed",
    ]
    (rows_key,) = kit.objects.keys(OUTPUT, "analytics/rows/")
    stored = kit.objects.get(OUTPUT, rows_key)
    assert stored is not None
    rows = [json.loads(line) for line in stored.body.splitlines()]
    plate = next(r for r in rows if r.get("field") == "matricula")
    assert plate["value"] == "4821-KLM" and plate["review"] == "approved"
    # Each rewrite is a state change of its own, naming the rows it rewrote.
    written = [r.__dict__ for r in caplog.records if r.getMessage() == "output_written"]
    assert [(w["by"], w["rows_key"], w["request_file_id"], w["review"]) for w in written] == [
        ("ana", rows_key, file_id, "pending"),
        ("ana", rows_key, file_id, "approved"),
    ]
