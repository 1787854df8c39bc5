"""The webhook path builds its models without validating them again (`service.models.document.trusted`)
and validates a large body entry by entry in place (`service.core.payloads._validated_in_place`). Both
must make exactly what validation makes: these tests validate the result again and compare."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.core.normalize import normalize_file
from service.core.payloads import _validated_in_place, parse_payload_bytes
from service.core.rules import Rules, load_rules
from service.models.document import DocumentField, NormalizedDocument, SourceRef
from service.models.nanonets import FilePrediction
from service.models.nanonets_lean import LEAN_BODY
from tests.unit.test_payloads import BARE, BODY, VALID_BODY

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SAMPLES = sorted((REPO / "samples" / "webhooks").rglob("*.json"))
RULES = [None, *(load_rules(path) for path in sorted((REPO / "samples" / "rules").glob("*.yaml")))]
SOURCE = SourceRef(bucket="in", key="incoming/a.pdf", etag="abc")
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def _documents(body: bytes, rules: Rules | None) -> list[NormalizedDocument]:
    return [
        normalize_file(
            prediction, source=SOURCE, model_id="m", rules=rules, review=prediction.review, processed_at=WHEN
        )
        for prediction in parse_payload_bytes(body)
    ]


def _assert_as_validated(document: NormalizedDocument) -> None:
    """The document, every part of it, equals what validating its own data makes, and writes the same JSON."""
    validated = NormalizedDocument.model_validate(document.model_dump())
    assert validated == document
    assert validated.to_json_bytes() == document.to_json_bytes()


def _assert_files_as_validated(files: list[FilePrediction]) -> None:
    for file in files:
        assert FilePrediction.model_validate(dict(file)) == file


@pytest.mark.parametrize("rules", RULES, ids=["no-rules", "fuel-receipts", "supplier-invoices"])
@pytest.mark.parametrize("path", WEBHOOK_SAMPLES, ids=lambda p: p.name)
def test_sample_webhooks_normalize_to_documents_validation_accepts_unchanged(
    path: Path, rules: Rules | None
) -> None:
    body = path.read_bytes()
    _assert_files_as_validated(parse_payload_bytes(body))
    for document in _documents(body, rules):
        _assert_as_validated(document)


@settings(max_examples=150, deadline=None)
@given(VALID_BODY)
def test_generated_webhooks_normalize_to_documents_validation_accepts_unchanged(body: Any) -> None:
    for document in _documents(json.dumps(body).encode(), RULES[1]):
        _assert_as_validated(document)


@settings(max_examples=300, deadline=None)
@given(st.one_of(BODY, BARE, VALID_BODY))
def test_a_body_validated_in_place_equals_the_body_validated_whole(body: Any) -> None:
    try:
        whole: object = LEAN_BODY.validate_python(copy.deepcopy(body))
    except ValidationError:
        whole = ValidationError
    try:
        in_place: object = _validated_in_place(copy.deepcopy(body))
    except ValidationError:
        in_place = ValidationError
    assert repr(in_place) == repr(whole)  # repr: NaN scores compare too


@pytest.mark.parametrize(
    "change",
    [{"review": "maybe"}, {"model_id": None}, {"source": {"bucket": "in"}}],
    ids=lambda c: next(iter(c)),
)
def test_a_document_argument_of_the_wrong_type_is_still_refused(change: dict[str, Any]) -> None:
    (prediction,) = parse_payload_bytes(WEBHOOK_SAMPLES[0].read_bytes())
    arguments: dict[str, Any] = {
        "source": SOURCE,
        "model_id": "m",
        "rules": None,
        "review": "pending",
        "processed_at": WHEN,
        **change,
    }
    with pytest.raises(ValidationError):
        normalize_file(prediction, **arguments)


def test_a_copy_of_an_unvalidated_field_changes_only_the_copy() -> None:
    (document,) = _documents((REPO / "samples" / "webhooks" / "prediction-result.json").read_bytes(), None)
    first, second = list(document.fields.values())[:2]
    changed = first.model_copy(update={"value": "changed", "source": "console"})
    assert (changed.value, changed.source, first.source) == ("changed", "console", "model")
    assert first.model_fields_set == second.model_fields_set == set(DocumentField.model_fields)
