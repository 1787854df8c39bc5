"""service.models.completion and the Standard Webhooks signature: stable ids, types, the contract body."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from service.adapters.events.signing import secret_key, signature, signature_headers
from service.models.completion import (
    CompletionEvent,
    EventOutput,
    completion_type,
    document_event,
    event_id,
    quarantine_event,
)
from service.models.document import (
    DocumentField,
    NanonetsRef,
    NormalizedDocument,
    SourceRef,
    Validation,
    ValidationIssue,
)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OUTPUT = EventOutput(bucket="out", key="normalized/receipts/a.pdf.json")


def document(**changes: Any) -> NormalizedDocument:
    base = NormalizedDocument(
        source=SourceRef(bucket="in", key="incoming/receipts/a.pdf", etag="abc123"),
        nanonets=NanonetsRef(model_id="m", request_file_id="file-1"),
        pages=1,
        fields={"total": DocumentField(value="45,99 €", normalized=45.99, type="amount", confidence=0.9)},
        processed_at="2026-01-01T00:00:00Z",
    )
    return base.model_copy(update=changes)


def event_of(doc: NormalizedDocument, digest: str = "d1", previous: Any = None) -> CompletionEvent:
    return document_event(
        doc,
        event_type=completion_type(doc, previous),
        content_digest=digest,
        output=OUTPUT,
        route="receipts",
    )


def test_event_body_has_exactly_the_fields_of_the_contract() -> None:
    body = json.loads(event_of(document()).body())
    assert set(body) == {
        "id",
        "type",
        "time",
        "route",
        "source",
        "output",
        "request_file_id",
        "validation_status",
        "review",
    }
    assert body["source"] == {"bucket": "in", "key": "incoming/receipts/a.pdf", "etag": "abc123"}
    assert body["output"] == {"bucket": "out", "key": "normalized/receipts/a.pdf.json"}
    assert (body["type"], body["route"], body["request_file_id"]) == (
        "document.completed",
        "receipts",
        "file-1",
    )
    assert (body["validation_status"], body["review"], body["time"]) == (
        "passed",
        "pending",
        "2026-01-01T00:00:00Z",
    )


def test_the_same_output_announced_again_has_the_same_id() -> None:
    first = event_of(document())
    again = event_of(document(processed_at="2026-01-02T09:00:00Z"))  # a redelivered webhook, later
    assert first.id == again.id and first.id.startswith("evt_") and "." not in first.id


def test_a_changed_output_or_another_type_has_another_id() -> None:
    first = event_of(document())
    assert event_of(document(), digest="d2").id != first.id
    assert event_id("document.reviewed", "file-1", "d1") != first.id
    assert event_id("document.completed", "file-2", "d1") != first.id


@pytest.mark.parametrize(
    ("review", "previous", "failed", "expected"),
    [
        ("pending", None, False, "document.completed"),
        ("pending", None, True, "document.validation_failed"),
        ("auto_approved", None, False, "document.completed"),
        ("approved", "pending", False, "document.reviewed"),
        ("rejected", "approved", True, "document.reviewed"),
        ("approved", "approved", False, "document.completed"),  # a rules change rewrote it, no new verdict
    ],
)
def test_completion_type_says_what_changed(review: Any, previous: Any, failed: bool, expected: str) -> None:
    issues = [ValidationIssue(field="total", code="missing", message="x")] if failed else []
    doc = document(
        review=review, validation=Validation(status="failed" if failed else "passed", issues=issues)
    )
    assert completion_type(doc, previous) == expected


def test_quarantine_event_has_no_output_and_a_stable_id() -> None:
    source = SourceRef(bucket="in", key="incoming/receipts/a.pdf", etag="abc")
    first = quarantine_event(
        source=source, quarantine_id="q-1", time="2026-01-01T00:00:00Z", route="receipts"
    )
    again = quarantine_event(
        source=source, quarantine_id="q-1", time="2026-01-05T00:00:00Z", route="receipts"
    )
    assert first.type == "document.quarantined" and first.output is None
    assert first.id == again.id
    assert quarantine_event(source=source, quarantine_id="q-2", time="t", route=None).id != first.id


# ---------------------------------------------------------------- Standard Webhooks signature


def test_signature_verifies_with_the_standardwebhooks_library() -> None:
    body = event_of(document()).body()
    timestamp = int(datetime.now(UTC).timestamp())
    headers = signature_headers(secret_key(SECRET), "evt_1", timestamp, body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)


def test_signature_matches_the_libraries_own_signer() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    body = b'{"a":1}'
    ours = signature(secret_key(SECRET), "evt_2", int(moment.timestamp()), body)
    assert ours == Webhook(SECRET).sign("evt_2", moment, body.decode())
    assert ours != signature(secret_key(SECRET), "evt_2", int(moment.timestamp()) + 1, body)
