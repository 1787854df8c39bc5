"""service.review.overrides and attention_reasons: pure rules of the review console."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.core.rules import Rules
from service.models.document import DocumentField, NanonetsRef, NormalizedDocument, Validation
from service.models.ledger import QuarantineRecord
from service.models.source import SourceRef
from service.review.attention import attention_reasons, facets_of, folder_prefixes, prefix_facet
from service.review.models import AttentionEntry, DecisionOverride, FieldOverride, Overrides
from service.review.overrides import apply_overrides, editable_labels, with_field_edit, with_pending_push

RULES = Rules.model_validate(
    {
        "fields": {
            "fecha": {"type": "date", "required": True},
            "total": {"type": "amount", "required": True, "min_confidence": 0.5},
            "matricula": {"type": "text", "pattern": "^[0-9]{4}-?[A-Z]{3}$"},
        }
    }
)


def field(value: str, confidence: float = 0.9, type_: str = "text", **extra: Any) -> DocumentField:
    return DocumentField.model_validate(
        {"value": value, "confidence": confidence, "type": type_, "page": 0, "bbox": [1, 2, 3, 4], **extra}
    )


def document(**fields: DocumentField) -> NormalizedDocument:
    from service.core.rules import validate_document

    return NormalizedDocument(
        source=SourceRef(bucket="in", key="incoming/fleet/a.pdf", etag="e"),
        nanonets=NanonetsRef(model_id="m", request_file_id="f-1"),
        pages=1,
        fields=fields,
        validation=validate_document(fields, [], RULES),
        processed_at="2026-01-01T00:00:00Z",
    )


def edits(**values: str) -> Overrides:
    return Overrides(
        request_file_id="f-1",
        fields={
            label: FieldOverride(value=v, by="ana", at="2026-01-02T00:00:00Z") for label, v in values.items()
        },
    )


def bad_plate() -> NormalizedDocument:
    return document(
        fecha=field("23/12/2025", type_="date", normalized="2025-12-23"),
        total=field("45,99 €", type_="amount", normalized=45.99),
        matricula=field("7310 HJT", confidence=0.86),
    )


def test_console_edit_replaces_value_revalidates_and_keeps_model_value() -> None:
    fixed = apply_overrides(bad_plate(), edits(matricula="7310-HJT"), RULES)
    plate = fixed.fields["matricula"]
    assert (plate.value, plate.normalized, plate.source, plate.predicted) == (
        "7310-HJT",
        "7310-HJT",
        "console",
        "7310 HJT",
    )
    assert plate.bbox == [1, 2, 3, 4]  # the box still says where it was read
    assert fixed.validation == Validation(status="passed", issues=[])


def test_edited_value_is_normalized_by_the_field_type() -> None:
    fixed = apply_overrides(bad_plate(), edits(total="1.234,50 EUR", fecha="03/04/2026"), RULES)
    assert fixed.fields["total"].normalized == 1234.5
    assert fixed.fields["fecha"].normalized == "2026-04-03"


def test_an_edit_that_still_breaks_a_rule_keeps_the_issue() -> None:
    fixed = apply_overrides(bad_plate(), edits(matricula="nope"), RULES)
    assert fixed.validation.status == "failed"
    assert [(i.field, i.code) for i in fixed.validation.issues] == [("matricula", "pattern_mismatch")]


def test_confirming_a_low_confidence_value_clears_low_confidence() -> None:
    blurred = document(
        fecha=field("19/11/2026", type_="date", normalized="2026-11-19"),
        total=field("45,30 €", confidence=0.31, type_="amount", normalized=45.3),
    )
    assert [i.code for i in blurred.validation.issues] == ["low_confidence"]
    assert apply_overrides(blurred, edits(total="45,30 €"), RULES).validation.status == "passed"


def edit_in_console(doc: NormalizedDocument, overrides: Overrides, label: str, value: str) -> Overrides:
    """What the console records for an edit of `label` on the output `doc`."""
    return with_field_edit(overrides, label, value, doc.fields.get(label), by="ana", at="t")


def test_editing_again_keeps_the_model_reading_and_applying_twice_changes_nothing() -> None:
    first = edit_in_console(bad_plate(), edits(), "matricula", "7310-HJT")
    once = apply_overrides(bad_plate(), first, RULES)
    second = edit_in_console(once, first, "matricula", "7310-HJK")
    again = apply_overrides(once, second, RULES)
    assert again.fields["matricula"].predicted == "7310 HJT"
    assert apply_overrides(again, second, RULES) == again
    assert apply_overrides(bad_plate(), second, RULES) == again  # a fresh normalization gives the same


def test_confirming_the_model_value_leaves_predicted_empty_until_it_changes() -> None:
    confirmed = edit_in_console(bad_plate(), edits(), "matricula", "7310 HJT")
    once = apply_overrides(bad_plate(), confirmed, RULES)
    assert (once.fields["matricula"].source, once.fields["matricula"].predicted) == ("console", None)
    changed = edit_in_console(once, confirmed, "matricula", "7310-HJT")
    assert apply_overrides(once, changed, RULES).fields["matricula"].predicted == "7310 HJT"


def test_reviewed_in_nanonets_field_keeps_its_model_value_as_predicted() -> None:
    reviewed = document(matricula=field("7310HJT", predicted="7310 HJT", source="nanonets_review"))
    assert apply_overrides(reviewed, edits(matricula="7310-HJT"), RULES).fields["matricula"].predicted == (
        "7310 HJT"
    )


def test_missing_required_field_can_be_typed_in() -> None:
    no_date = document(total=field("45,99 €", type_="amount", normalized=45.99))
    assert "fecha" in editable_labels(no_date, RULES)
    fixed = apply_overrides(no_date, edits(fecha="23/12/2025"), RULES)
    assert fixed.fields["fecha"].normalized == "2025-12-23"
    assert (fixed.fields["fecha"].source, fixed.fields["fecha"].predicted) == ("console", None)
    assert fixed.validation.status == "passed"


def test_console_decision_wins_over_the_document_review() -> None:
    decided = Overrides(
        request_file_id="f-1",
        decision=DecisionOverride(review="approved", by="ana", at="2026-01-02T00:00:00Z"),
    )
    assert apply_overrides(bad_plate(), decided, RULES).review == "approved"


def test_no_overrides_leave_the_document_as_it_is() -> None:
    doc = bad_plate()
    assert apply_overrides(doc, None, RULES) is doc
    assert apply_overrides(doc, Overrides(request_file_id="f-1"), RULES) is doc


def test_pending_push_accumulates_fields_and_counts_attempts() -> None:
    first = with_pending_push(edits(), fields={"a": "1"}, approve=False, error="down", at="t1")
    second = with_pending_push(first, fields={"b": "2", "a": "3"}, approve=True, error="still", at="t2")
    assert second.pending_push is not None
    assert (second.pending_push.fields, second.pending_push.approve) == ({"a": "3", "b": "2"}, True)
    assert (second.pending_push.attempts, second.pending_push.last_error) == (2, "still")
    assert with_field_edit(second, "a", "4", None, by="x", at="t3").pending_push == second.pending_push


# ---- attention_reasons ----


def test_failed_validation_needs_a_person() -> None:
    assert attention_reasons(bad_plate(), rules=RULES) == ["validation_failed"]


def test_low_confidence_uses_the_rule_bar_then_the_default() -> None:
    shaky = document(
        fecha=field("23/12/2025", type_="date", normalized="2025-12-23"),
        total=field("45,99 €", confidence=0.6, type_="amount", normalized=45.99),  # rule bar 0.5: fine
        proveedor=field("Repsol", confidence=0.7),  # default bar 0.8: low
    )
    assert attention_reasons(shaky, rules=RULES, min_confidence=0.8) == ["low_confidence"]
    assert attention_reasons(shaky, rules=RULES, min_confidence=0.6) == []


def test_approved_documents_and_console_decisions_are_settled() -> None:
    approved = bad_plate().model_copy(update={"review": "approved"})
    assert attention_reasons(approved, rules=RULES) == []
    rejected = bad_plate().model_copy(update={"review": "rejected"})
    assert attention_reasons(rejected, rules=RULES) == ["rejected", "validation_failed"]
    decided = Overrides(
        request_file_id="f-1",
        decision=DecisionOverride(review="rejected", reason="blurred", by="ana", at="t"),
    )
    assert attention_reasons(rejected, rules=RULES, overrides=decided) == []


def test_quarantined_submission_without_output_needs_a_person() -> None:
    def quarantined(code: str) -> QuarantineRecord:
        return QuarantineRecord(
            id="q", kind="submission", code=code, reason="r", received_at=datetime(2026, 1, 1, tzinfo=UTC)
        )

    assert attention_reasons(None, quarantine=quarantined("pending_too_long")) == ["pending_too_long"]
    assert attention_reasons(None, quarantine=quarantined("nanonets_not_found")) == ["quarantined"]
    assert attention_reasons(None) == []


def test_facets_cover_reasons_codes_every_folder_and_route() -> None:
    entry = AttentionEntry(
        request_file_id="f-1",
        since="20260101T000000Z",
        reasons=["validation_failed"],
        codes=["pattern_mismatch"],
        source=SourceRef(bucket="in", key="incoming/fleet/a.pdf"),
        route="receipts",
    )
    assert folder_prefixes("incoming/fleet/a.pdf") == ["incoming/", "incoming/fleet/"]
    assert facets_of(entry) == [
        "all",
        "reason/validation_failed",
        "code/pattern_mismatch",
        prefix_facet("incoming/"),
        prefix_facet("incoming/fleet"),
        "route/receipts",
    ]
