"""service.core.analytics: one row per field and per table row, stable per-document keys, partitions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.analytics import (
    COLUMNS,
    AnalyticsRow,
    document_rows,
    partition_day,
    processing_day,
    rows_jsonl,
    rows_key,
)
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload_bytes
from service.models.document import (
    DocumentField,
    FieldCandidate,
    NanonetsRef,
    NormalizedDocument,
    SourceRef,
    Table,
    Validation,
    ValidationIssue,
)

SAMPLE_WEBHOOKS = Path(__file__).resolve().parents[2] / "samples" / "webhooks"


def receipt() -> NormalizedDocument:
    return NormalizedDocument(
        source=SourceRef(bucket="in", key="incoming/receipts/recibo 1.pdf", etag="e1"),
        nanonets=NanonetsRef(model_id="emulator-model", request_file_id="file-1"),
        pages=1,
        fields={
            "fecha": DocumentField(
                value="04/11/2026", normalized="2026-11-04", type="date", confidence=0.97, page=0
            ),
            "total": DocumentField(
                value="62,40 €",
                normalized=62.4,
                type="amount",
                confidence=0.31,
                page=0,
                others=[FieldCandidate(value="62,10 €", normalized=62.1, confidence=0.2)],
            ),
            "matricula": DocumentField(value="7310 HJT", normalized="7310 HJT", type="text", confidence=0.8),
        },
        tables=[
            Table(
                label="lineas_detalle",
                page=0,
                rows=[
                    {"descripcion": "Gasóleo A", "cantidad": "41,60 L"},
                    {"descripcion": "Lavado", "cantidad": None},
                ],
            )
        ],
        validation=Validation(
            status="failed",
            issues=[
                ValidationIssue(field="total", code="low_confidence", message="x"),
                ValidationIssue(field="matricula", code="pattern_mismatch", message="y"),
            ],
        ),
        review="approved",
        processed_at="2026-11-24T09:30:00Z",
    )


def test_one_row_per_field_and_one_per_table_row() -> None:
    rows = list(document_rows(receipt(), "receipts"))
    assert [(r.record_type, r.field, r.row_index) for r in rows] == [
        ("field", "fecha", None),
        ("field", "total", None),
        ("field", "matricula", None),
        ("table_row", "lineas_detalle", 0),
        ("table_row", "lineas_detalle", 1),
    ]
    assert all(r.document_key == "incoming/receipts/recibo 1.pdf" and r.route == "receipts" for r in rows)
    assert all(
        (r.validation_status, r.review, r.request_file_id) == ("failed", "approved", "file-1") for r in rows
    )
    assert all(r.processed_at == "2026-11-24T09:30:00Z" for r in rows)


def test_field_row_carries_value_types_confidence_and_its_issues() -> None:
    fecha, total, matricula, *_ = document_rows(receipt(), "receipts")
    assert (fecha.value, fecha.normalized, fecha.normalized_number, fecha.type) == (
        "04/11/2026",
        "2026-11-04",
        None,
        "date",
    )
    assert (total.normalized, total.normalized_number, total.confidence, total.page) == (
        "62.4",
        62.4,
        0.31,
        0,
    )
    assert (total.issues, matricula.issues, fecha.issues) == ("low_confidence", "pattern_mismatch", None)


def test_table_row_keeps_its_cells_as_a_json_object() -> None:
    *_, first, second = document_rows(receipt(), None)
    assert json.loads(first.value or "") == {"descripcion": "Gasóleo A", "cantidad": "41,60 L"}
    assert json.loads(second.value or "") == {"descripcion": "Lavado", "cantidad": None}
    assert (first.type, first.page, first.route) == ("table", 0, None)


def test_jsonl_has_every_column_on_each_line() -> None:
    lines = rows_jsonl(receipt(), "receipts").decode().splitlines()
    assert len(lines) == 5
    for line in lines:
        row = json.loads(line)
        assert tuple(row) == COLUMNS
        AnalyticsRow.model_validate(row)
    assert "Gasóleo" in lines[3]  # readable UTF-8, not \u escapes


def test_rows_are_what_validating_them_would_make() -> None:
    """The rows are made without validation: each must equal, field by field and in its JSON, the row that
    validating the same values makes, also from a document read back from JSON (whole-number scores and
    amounts arrive as JSON integers there)."""
    stored = json.loads(receipt().to_json_bytes())
    stored["fields"]["total"].update(normalized=62, confidence=1)
    for document in (receipt(), NormalizedDocument.model_validate(stored)):
        for row in document_rows(document, "receipts"):
            validated = AnalyticsRow.model_validate(dict(row))
            assert dict(row) == dict(validated)
            assert [type(v) for v in dict(row).values()] == [type(v) for v in dict(validated).values()]
            assert row.model_dump_json() == validated.model_dump_json()


def test_document_without_fields_has_no_rows() -> None:
    empty = receipt().model_copy(update={"fields": {}, "tables": []})
    assert rows_jsonl(empty, None) == b""


def test_rows_key_is_stable_per_document_and_partitioned_by_day() -> None:
    key = rows_key("analytics/", date(2026, 11, 24), "in", "incoming/receipts/recibo 1.pdf")
    assert key.startswith("analytics/rows/dt=2026-11-24/") and key.endswith(".jsonl")
    assert key == rows_key("analytics/", date(2026, 11, 24), "in", "incoming/receipts/recibo 1.pdf")
    assert key != rows_key("analytics/", date(2026, 11, 24), "in", "incoming/receipts/recibo 2.pdf")
    assert " " not in key


def test_partition_day_reads_dt_from_keys_and_folders() -> None:
    assert partition_day("analytics/rows/dt=2026-11-24/abc.jsonl") == date(2026, 11, 24)
    assert partition_day("analytics/rows/dt=2026-11-24/") == date(2026, 11, 24)
    assert partition_day("analytics/rows/dt=2026-13-40/") is None
    assert partition_day("analytics/rows/other/") is None
    assert processing_day("2026-11-24T23:59:59Z") == date(2026, 11, 24)


def rows_as_models_write_them(document: NormalizedDocument, route: str | None) -> bytes:
    return b"".join(row.model_dump_json().encode("utf-8") + b"\n" for row in document_rows(document, route))


def test_jsonl_is_byte_for_byte_what_the_row_models_serialize_to() -> None:
    """rows_jsonl writes the rows without making them: it must write exactly what `document_rows`' models
    give, for documents as the webhook makes them (every sample body, normalized) and as read back."""
    documents = [receipt(), NormalizedDocument.model_validate_json(receipt().to_json_bytes())]
    for sample in sorted(SAMPLE_WEBHOOKS.glob("*.json")):
        for file in parse_payload_bytes(sample.read_bytes()):
            documents.append(
                normalize_file(
                    file,
                    source=SourceRef(bucket="in", key=f"incoming/{sample.stem}.pdf", etag="e"),
                    model_id="m-1",
                    rules=None,
                    review="pending",
                    processed_at=datetime(2026, 11, 26, tzinfo=UTC),
                )
            )
    assert sum(len(d.fields) + sum(len(t.rows) for t in d.tables) for d in documents) > 20
    for document in documents:
        for route in ("receipts", None):
            assert rows_jsonl(document, route) == rows_as_models_write_them(document, route)


# Text a JSON writer must escape ('"', '\\', controls) or may not (non-ASCII, U+2028, DEL), and numbers
# whose text differs between writers (1e16 against 1e+16, 1e-07 against 1e-7, -0.0, NaN).
_text = st.text(alphabet=st.sampled_from('a"\\\n\t\x00\x1f\x7fé€😀\u2028,: {}[]'), max_size=12)
_score = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 0, 1, 1e-07, 0.31, 1 / 3]), st.floats(0, 1))
_amount = st.one_of(
    st.none(),
    _text,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e16, 1e-07, -0.0, 62.0]),
)


@given(
    labels=st.lists(_text, min_size=1, max_size=4, unique=True),
    values=st.lists(st.tuples(_text, _amount, _score, st.one_of(st.none(), st.integers(0, 999))), min_size=4),
    cells=st.lists(st.dictionaries(_text, st.one_of(st.none(), _text), max_size=3), max_size=3),
    route=st.one_of(st.none(), _text),
    key=_text,
    codes=st.lists(st.sampled_from(["low_confidence", "missing", "pattern_mismatch"]), max_size=3),
)
@settings(max_examples=300, deadline=None)
def test_jsonl_matches_the_models_on_any_text_and_number(
    labels: list[str],
    values: list[tuple[str, object, float | None, int | None]],
    cells: list[dict[str, str | None]],
    route: str | None,
    key: str,
    codes: list[str],
) -> None:
    fields = {
        label: DocumentField.model_construct(
            value=value, normalized=normalized, type="amount", confidence=score, page=page, others=[]
        )
        for label, (value, normalized, score, page) in zip(labels, values, strict=False)
    }
    document = receipt().model_copy(
        update={
            "source": SourceRef(bucket="in", key=key or "k", etag="e"),
            "fields": fields,
            "tables": [Table(label=labels[0], page=None, rows=cells)],
            "validation": Validation(
                status="failed", issues=[ValidationIssue(field=labels[0], code=c, message="m") for c in codes]
            ),
        }
    )
    assert rows_jsonl(document, route) == rows_as_models_write_them(document, route)
