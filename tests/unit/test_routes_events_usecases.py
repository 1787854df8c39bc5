"""Routes, completion events and analytics rows in the use cases, on in-memory adapters: two routes to two
models (longest prefix, a key under no route, pacing per model, rules per route), events published, parked
and delivered by reconcile, rows written with every output and caught up by reconcile."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from service.core.routes import RouteDefaults, parse_routes_text
from service.errors import NanonetsBadRequest
from service.models.completion import CompletionEvent
from tests.fakes import FakePublisher
from tests.unit.usecase_kit import (
    INPUT,
    INVOICES_MODEL,
    OUTPUT,
    RECEIPTS_MODEL,
    Kit,
    box,
    make_kit,
    two_routes,
    webhook,
)

RECEIPT_BOXES = [box("fecha", "23/12/2025"), box("total", "45,99 €")]


def submitted(kit: Kit, key: str) -> str:
    outcome = kit.service.submit.submit(kit.drop(key))
    assert outcome.status == "submitted", outcome
    assert outcome.request_file_id is not None
    return outcome.request_file_id


def rows_objects(kit: Kit) -> list[str]:
    return kit.objects.keys(OUTPUT, "analytics/rows/")


def rows_of(kit: Kit, key: str) -> list[dict[str, Any]]:
    found = kit.objects.get(OUTPUT, key)
    assert found is not None
    return [json.loads(line) for line in found.body.splitlines()]


def sent(kit: Kit) -> list[CompletionEvent]:
    assert kit.publisher is not None
    return kit.publisher.sent


# ---- routes ----


def test_two_routes_submit_to_two_models_and_write_under_their_own_output_prefixes() -> None:
    kit = make_kit(routes=two_routes())
    receipt = submitted(kit, "incoming/receipts/fleet/r 1.pdf")
    invoice = submitted(kit, "incoming/invoices/f.pdf")

    assert kit.ocr.model_of == {receipt: RECEIPTS_MODEL, invoice: INVOICES_MODEL}
    records = {file_id: kit.service.stores.ledger.get(file_id) for file_id in (receipt, invoice)}
    assert [(r.route, r.model_id, r.output_key) for r in records.values() if r] == [
        ("receipts", RECEIPTS_MODEL, "normalized/receipts/fleet/r 1.pdf.json"),
        ("invoices", INVOICES_MODEL, "erp/invoices/f.pdf.json"),
    ]
    kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))
    kit.service.complete.receive_webhook(webhook(invoice))
    assert kit.output("normalized/receipts/fleet/r 1.pdf.json")["nanonets"]["model_id"] == RECEIPTS_MODEL
    assert kit.output("erp/invoices/f.pdf.json")["nanonets"]["model_id"] == INVOICES_MODEL


def test_the_longest_matching_prefix_wins() -> None:
    text = """
routes:
  - {name: invoices, prefix: incoming/invoices/, model_id: emulator-invoices}
  - {name: everything, prefix: incoming/, model_id: emulator-receipts}
"""
    kit = make_kit(routes=parse_routes_text(text, "yaml", RouteDefaults()))
    nested = submitted(kit, "incoming/invoices/2026/f.pdf")
    other = submitted(kit, "incoming/other/x.pdf")
    assert kit.ocr.model_of == {nested: INVOICES_MODEL, other: RECEIPTS_MODEL}
    assert kit.service.stores.ledger.get(nested).route == "invoices"  # type: ignore[union-attr]
    assert kit.service.stores.ledger.get(other).route == "everything"  # type: ignore[union-attr]


def test_an_object_under_no_route_is_skipped_with_a_reason_and_never_submitted() -> None:
    kit = make_kit(routes=two_routes())
    kit.drop("incoming/receipts/r.pdf")
    stray = kit.drop("incoming/other/x.pdf")
    no_route = "under no route (prefixes 'incoming/receipts/', 'incoming/invoices/')"

    outcome = kit.service.submit.submit(stray)
    assert (outcome.status, outcome.reason) == ("skipped", no_route)
    items = {
        item.key: item for item in kit.service.recovery.backfill(INPUT, "incoming/", sleep=lambda s: None)
    }
    assert (items["incoming/other/x.pdf"].status, items["incoming/other/x.pdf"].reason) == (
        "skipped",
        no_route,
    )
    assert items["incoming/receipts/r.pdf"].status == "submitted"
    assert [metadata["key"] for _, metadata in kit.ocr.submitted] == ["incoming/receipts/r.pdf"]


def test_each_model_is_paced_by_its_routes_budget_and_status_lists_both() -> None:
    kit = make_kit(routes=two_routes(invoices_pages_per_minute=1), nanonets_pages_per_minute=150)
    first_invoice = kit.service.submit.submit(kit.drop("incoming/invoices/a.pdf"))
    second_invoice = kit.service.submit.submit(kit.drop("incoming/invoices/b.pdf"))
    receipts = [kit.service.submit.submit(kit.drop(f"incoming/receipts/r{i}.pdf")) for i in range(3)]

    assert first_invoice.status == "submitted"
    assert (second_invoice.status, second_invoice.retryable) == ("failed", True)
    assert second_invoice.retry_after is not None and second_invoice.retry_after > 30
    assert [r.status for r in receipts] == ["submitted"] * 3  # another model, another budget
    pacing = {p.model_id: p for p in kit.service.status().pacing}
    assert (pacing[RECEIPTS_MODEL].pages_per_minute, pacing[RECEIPTS_MODEL].routes) == (150, ["receipts"])
    assert (pacing[INVOICES_MODEL].pages_per_minute, pacing[INVOICES_MODEL].routes) == (1, ["invoices"])
    assert pacing[INVOICES_MODEL].backlog == 1  # the second invoice's reservation


def test_each_document_is_validated_by_the_rules_of_its_route() -> None:
    kit = make_kit(routes=two_routes())
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    invoice = submitted(kit, "incoming/invoices/f.pdf")
    kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))
    kit.service.complete.receive_webhook(webhook(invoice, boxes=RECEIPT_BOXES))  # the same reading

    assert kit.output("normalized/receipts/r.pdf.json")["validation"] == {"status": "passed", "issues": []}
    invoice_validation = kit.output("erp/invoices/f.pdf.json")["validation"]
    missing = {issue["field"] for issue in invoice_validation["issues"] if issue["code"] == "missing"}
    assert invoice_validation["status"] == "failed"
    assert missing == {"numero_factura", "proveedor", "lineas_detalle"}


def test_reconcile_fetches_each_file_from_its_routes_model() -> None:
    kit = make_kit(routes=two_routes())
    invoice = submitted(kit, "incoming/invoices/f.pdf")
    kit.ocr.answers[invoice] = json.loads(webhook(invoice))  # FakeOcr answers 404 under another model
    summary = kit.service.recovery.reconcile(older_than_seconds=0, limit=10)
    assert (summary.completed, summary.failed) == (1, 0)
    assert kit.output("erp/invoices/f.pdf.json")["nanonets"]["request_file_id"] == invoice


def test_auto_approve_approves_in_the_routes_model() -> None:
    kit = make_kit(routes=two_routes(), auto_approve=True)
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))
    assert kit.ocr.approved == [receipt]
    assert kit.output("normalized/receipts/r.pdf.json")["review"] == "auto_approved"


# ---- completion events ----


def test_every_output_written_publishes_one_event_saying_what_happened() -> None:
    kit = make_kit(routes=two_routes(), publisher=FakePublisher())
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    invoice = submitted(kit, "incoming/invoices/f.pdf")
    kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))
    kit.service.complete.receive_webhook(webhook(invoice))
    kit.service.complete.receive_webhook(webhook(invoice))  # a repeat writes nothing, says nothing

    [completed, failed] = sent(kit)
    assert (completed.type, completed.route, completed.request_file_id) == (
        "document.completed",
        "receipts",
        receipt,
    )
    assert completed.output is not None and completed.output.key == "normalized/receipts/r.pdf.json"
    assert completed.output.bucket == OUTPUT and completed.source.key == "incoming/receipts/r.pdf"
    assert (failed.type, failed.route, failed.validation_status) == (
        "document.validation_failed",
        "invoices",
        "failed",
    )
    assert failed.output is not None and failed.output.key == "erp/invoices/f.pdf.json"
    assert kit.state("outbox") == []


def test_an_approval_in_nanonets_publishes_a_reviewed_event() -> None:
    kit = make_kit(routes=two_routes(), publisher=FakePublisher())
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))
    approved = {
        "moderated_images": [{"request_file_id": receipt, "page": 0, "predicted_boxes": RECEIPT_BOXES}]
    }
    kit.service.complete.receive_webhook(json.dumps(approved).encode())
    assert [(e.type, e.review) for e in sent(kit)] == [
        ("document.completed", "pending"),
        ("document.reviewed", "approved"),
    ]
    assert len({e.id for e in sent(kit)}) == 2


def test_a_document_refused_by_nanonets_publishes_a_quarantined_event() -> None:
    kit = make_kit(routes=two_routes(), publisher=FakePublisher())
    kit.ocr.fail_next.append(NanonetsBadRequest("not a document", status=400))
    kit.service.submit.submit(kit.drop("incoming/invoices/bad.pdf"))
    kit.service.complete.receive_webhook(webhook("stranger"))  # no source: no document anyone knows

    [event] = sent(kit)
    assert (event.type, event.route, event.source.key, event.output) == (
        "document.quarantined",
        "invoices",
        "incoming/invoices/bad.pdf",
        None,
    )


def test_events_are_parked_while_the_target_is_down_and_delivered_by_reconcile() -> None:
    publisher = FakePublisher(down=True)
    kit = make_kit(routes=two_routes(), publisher=publisher)
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    result = kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))

    assert [f.outcome for f in result.files] == ["written"]  # the document does not wait for the event
    [parked] = kit.state("outbox/")
    assert publisher.sent == []

    publisher.down = False
    summary = kit.service.recovery.reconcile(older_than_seconds=0, limit=10)
    assert (summary.events_delivered, summary.events_dead) == (1, 0)
    [event] = publisher.sent
    assert parked == f"_state/outbox/{event.id}.json" and event.type == "document.completed"
    assert kit.state("outbox/") == []


def test_without_an_events_target_nothing_is_published_or_parked() -> None:
    kit = make_kit(routes=two_routes())
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))
    assert kit.service.outbox is None
    assert kit.state("outbox") == []
    assert kit.service.recovery.reconcile(older_than_seconds=0, limit=10).events_delivered == 0


# ---- analytics rows ----


def test_every_output_write_replaces_the_documents_analytics_rows() -> None:
    kit = make_kit(routes=two_routes())
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))
    [rows_key] = rows_objects(kit)
    assert rows_key.startswith("analytics/rows/dt=2026-11-25/")
    rows = rows_of(kit, rows_key)
    assert {(r["field"], r["route"], r["model_id"], r["review"]) for r in rows} == {
        ("fecha", "receipts", RECEIPTS_MODEL, "pending"),
        ("total", "receipts", RECEIPTS_MODEL, "pending"),
    }

    kit.clock.advance(86400)  # approved the next day: the same object, in the first day's partition
    approved = {
        "moderated_images": [{"request_file_id": receipt, "page": 0, "predicted_boxes": RECEIPT_BOXES}]
    }
    kit.service.complete.receive_webhook(json.dumps(approved).encode())
    assert rows_objects(kit) == [rows_key]
    assert {r["review"] for r in rows_of(kit, rows_key)} == {"approved"}


def test_rows_that_cannot_be_written_never_fail_the_document_and_reconcile_writes_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    kit = make_kit(routes=two_routes())
    receipt = submitted(kit, "incoming/receipts/r.pdf")
    kit.objects.failing_prefixes.add("analytics/rows/")
    result = kit.service.complete.receive_webhook(webhook(receipt, boxes=RECEIPT_BOXES))

    assert [f.outcome for f in result.files] == ["written"]
    assert kit.output("normalized/receipts/r.pdf.json")["validation"]["status"] == "passed"
    assert rows_objects(kit) == [] and kit.state("analytics-behind/") == [
        f"_state/analytics-behind/{receipt}"
    ]
    [written] = [r for r in caplog.records if r.getMessage() == "output_written"]
    assert not hasattr(written, "rows_key")  # behind: the state-change line names no rows

    still_down = kit.service.recovery.reconcile(older_than_seconds=0, limit=10)
    assert still_down.rows_written == 0 and len(kit.state("analytics-behind/")) == 1

    kit.objects.failing_prefixes.clear()
    summary = kit.service.recovery.reconcile(older_than_seconds=0, limit=10)
    assert summary.rows_written == 1 and kit.state("analytics-behind/") == []
    [rows_key] = rows_objects(kit)
    assert {r["field"] for r in rows_of(kit, rows_key)} == {"fecha", "total"}
    [late] = [r for r in caplog.records if r.getMessage() == "analytics rows written late"]
    assert (late.__dict__["rows_key"], late.__dict__["request_file_id"]) == (rows_key, receipt)
