"""service.review.display: what the console's pages show, from the records."""

from __future__ import annotations

from service.core.rules import Rules
from service.models.document import DocumentField, FieldCandidate, NanonetsRef, NormalizedDocument
from service.models.ledger import LedgerRecord
from service.models.source import SourceRef
from service.review.display import field_rows, history, page_boxes, reported_page_size, when
from service.review.models import AuditRecord

RULES = Rules.model_validate({"fields": {"fecha": {"type": "date", "required": True}}})


def two_pages(**extra: object) -> NormalizedDocument:
    return NormalizedDocument.model_validate(
        {
            "source": SourceRef(bucket="in", key="incoming/a.pdf"),
            "nanonets": NanonetsRef(model_id="m", request_file_id="f"),
            "pages": 2,
            "fields": {
                "total": DocumentField(
                    value="45,99",
                    normalized=45.99,
                    confidence=0.4,
                    page=1,
                    bbox=[10, 20, 110, 45],
                    type="amount",
                    others=[FieldCandidate(value="45,90", page=0, bbox=[5, 5, 50, 15])],
                )
            },
            "processed_at": "2026-01-01T00:00:00Z",
            **extra,
        }
    )


def test_page_size_comes_from_pages_info_when_nanonets_gave_it() -> None:
    sized = two_pages(pages_info=[{"page": 0}, {"page": 1, "width": 2480, "height": 3508}])
    assert reported_page_size(sized, 1) == (2480, 3508)
    assert reported_page_size(sized, 0) is None  # no size for that page: the image's own is used
    assert reported_page_size(two_pages(), 1) is None


def test_boxes_are_the_fields_of_that_page_with_other_readings_dashed() -> None:
    document = two_pages()
    rows = field_rows(document, RULES, 0.8)
    [on_second] = page_boxes(document, rows, 1)
    assert (on_second.label, on_second.x, on_second.y, on_second.width, on_second.height) == (
        "total",
        10,
        20,
        100,
        25,
    )
    assert on_second.status == "low" and not on_second.candidate
    [on_first] = page_boxes(document, rows, 0)
    assert on_first.candidate


def test_rows_list_missing_rule_fields_as_bad_and_editable() -> None:
    document = two_pages(
        validation={
            "status": "failed",
            "issues": [
                {"field": "fecha", "code": "missing", "message": "required field 'fecha' was not found"}
            ],
        }
    )
    rows = {row.label: row for row in field_rows(document, RULES, 0.8)}
    assert rows["fecha"].missing and rows["fecha"].status == "bad"
    assert rows["fecha"].issues == ["required field 'fecha' was not found"]
    assert rows["total"].confidence_percent == "40%"


def test_history_is_in_time_order_with_every_console_action() -> None:
    record = LedgerRecord(
        request_file_id="f",
        model_id="m",
        source=SourceRef(bucket="in", key="incoming/a.pdf"),
        source_token="e",
        submitted_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:05:00Z",
        output_key="normalized/a.pdf.json",
    )
    audit = [
        AuditRecord(request_file_id="f", action="approve", by="ana", at="2026-01-01T00:09:00Z"),
        AuditRecord(
            request_file_id="f",
            action="edit",
            by="ana",
            at="2026-01-01T00:08:00Z",
            field="total",
            before="45,99",
            after="45,90",
        ),
    ]
    events = history(record, [("2026-01-01T00:01:00Z", "_state/raw/ab/abcdef.json")], audit)
    assert [e.title for e in events] == [
        "Submitted to Nanonets",
        "Result from Nanonets",
        "Edited total",
        "Approved",
    ]
    assert events[2].detail == "45,99 → 45,90" and events[2].by == "ana"
    assert when("2026-01-01T00:09:00Z") == "2026-01-01 00:09:00 UTC"
