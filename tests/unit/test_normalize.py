"""service.core.normalize: prediction pages → the normalized document 1.1 (docs/OUTPUT.md)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.normalize import normalize_file
from service.core.payloads import parse_payload
from service.core.rules import Rules, load_rules, parse_rules_text
from service.models.document import NormalizedDocument, SourceRef
from service.models.nanonets import FilePrediction, PagePrediction, Prediction

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "schemas" / "normalized-document-v1.1.json"
FUEL_RULES = REPO / "samples" / "rules" / "fuel-receipts.yaml"
GUIDE = Path("/work/shared/seeds/nanonets-api-guide.es.md")
SOURCE = SourceRef(bucket="in", key="incoming/fleet/recibo 1.pdf", etag="abc", version_id=None)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(document: NormalizedDocument) -> dict[str, Any]:
    data = json.loads(document.to_json_bytes())
    _validator().validate(data)
    return data


def _seed_response() -> dict[str, Any]:
    if not GUIDE.exists():
        pytest.skip("seeds not available")
    blocks = re.findall(r"```json\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    return next(json.loads(b) for b in blocks if '"result"' in b)


def field(label: str, text: str, score: float | None = 0.9, **extra: Any) -> Prediction:
    return Prediction.model_validate(
        {"label": label, "ocr_text": text, "score": score, "type": "field", **extra}
    )


def table(label: str | None, cells: list[dict[str, Any]]) -> Prediction:
    return Prediction.model_validate({"label": label, "type": "table", "score": 0.9, "cells": cells})


def prediction(
    *pages: list[Prediction], file_id: str = "f1", metadata: dict[str, Any] | None = None
) -> FilePrediction:
    return FilePrediction(
        request_file_id=file_id,
        pages=tuple(PagePrediction(page=i, boxes=tuple(boxes)) for i, boxes in enumerate(pages)),
        request_metadata=metadata,
    )


def normalize(
    file: FilePrediction, rules: Rules | None = None, review: str = "pending", when: datetime = WHEN
) -> NormalizedDocument:
    return normalize_file(
        file,
        source=SOURCE,
        model_id="model-1",
        rules=rules,
        review=review,
        processed_at=when,  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------------- seed example


def test_seed_response_becomes_the_contract_document() -> None:
    [file] = parse_payload(_seed_response())
    document = normalize(file, rules=load_rules(FUEL_RULES))
    data = assert_valid(document)
    assert (data["schema_version"], data["schema_minor"]) == (1, 1)
    assert data["source"] == {
        "bucket": "in",
        "key": "incoming/fleet/recibo 1.pdf",
        "etag": "abc",
        "version_id": None,
    }
    assert data["nanonets"] == {
        "model_id": "model-1",
        "request_file_id": "file_789",
        "request_metadata": None,
    }
    assert data["pages"] == 1
    assert data["pages_info"] == [{"page": 0, "width": None, "height": None}]
    assert data["fields"]["fecha"] == {
        "value": "23/12/2025",
        "normalized": "2025-12-23",
        "type": "date",
        "confidence": 0.95,
        "page": 0,
        "bbox": [100, 200, 250, 230],
        "others": [],
        "predicted": None,
        "source": "model",
    }
    assert data["fields"]["total"]["value"] == "45.99"
    assert data["fields"]["total"]["normalized"] == 45.99 and data["fields"]["total"]["type"] == "amount"
    assert data["tables"] == [
        {"label": "lineas_detalle", "page": 0, "rows": [{"descripcion": "Gasoil", "cantidad": "50L"}]}
    ]
    assert data["validation"] == {"status": "passed", "issues": []}
    assert data["review"] == "pending"
    assert data["processed_at"] == "2026-01-01T00:00:00Z"


# ----------------------------------------------------------------------------------------- typing


@pytest.mark.parametrize(
    ("label", "text", "type_", "normalized"),
    [
        ("fecha", "23/12/2025", "date", "2025-12-23"),
        ("fecha", "23-12-25", "date", "2025-12-23"),
        ("fecha", "31/02/2024", "date", None),  # the hint holds, the value is kept
        ("total", "45,99 €", "amount", 45.99),
        ("importe", "1.234,56 €", "amount", 1234.56),
        ("cantidad", "50L", "quantity", 50.0),
        ("matricula", "1234-ABC", "text", "1234-ABC"),
        ("otro", "12,5", "number", 12.5),
        ("emitido", "5 Mar 2024", "date", "2024-03-05"),
        ("pagado", "12,00 EUR", "amount", 12.0),
    ],
)
def test_fields_are_typed(label: str, text: str, type_: str, normalized: Any) -> None:
    data = assert_valid(normalize(prediction([field(label, text)])))
    got = data["fields"][label]
    assert (got["value"], got["type"], got["normalized"]) == (text, type_, normalized)


def test_value_is_ocr_text_unchanged() -> None:
    text = "  45,99 €\t"
    data = assert_valid(normalize(prediction([field("total", text)])))
    assert data["fields"]["total"]["value"] == text and data["fields"]["total"]["normalized"] == 45.99


def test_the_rules_type_wins_over_inference() -> None:
    rules = parse_rules_text("fields: {total: {type: text}, referencia: {type: amount}}", "yaml")
    data = assert_valid(normalize(prediction([field("total", "45,99"), field("referencia", "12,50")]), rules))
    assert (data["fields"]["total"]["type"], data["fields"]["total"]["normalized"]) == ("text", "45,99")
    assert (data["fields"]["referencia"]["type"], data["fields"]["referencia"]["normalized"]) == (
        "amount",
        12.5,
    )


def test_bbox_is_absent_when_a_corner_is() -> None:
    data = assert_valid(normalize(prediction([field("a", "x", xmin=1, ymin=2, xmax=3)])))
    assert data["fields"]["a"]["bbox"] is None


# ------------------------------------------------------------------------------- repeated labels


def test_highest_score_is_the_field_and_others_are_kept_best_first() -> None:
    file = prediction(
        [field("total", "10,00", 0.5), field("total", "30,00", 0.7)],
        [field("total", "20,00", 0.95)],
        [field("total", "40,00", None)],
    )
    data = assert_valid(normalize(file))
    total = data["fields"]["total"]
    assert (total["value"], total["normalized"], total["confidence"], total["page"]) == (
        "20,00",
        20.0,
        0.95,
        1,
    )
    assert [(o["value"], o["normalized"], o["page"]) for o in total["others"]] == [
        ("30,00", 30.0, 0),
        ("10,00", 10.0, 0),
        ("40,00", 40.0, 2),  # no score ranks last
    ]
    assert all(o.keys() == {"value", "normalized", "confidence", "page", "bbox"} for o in total["others"])


def test_ties_go_to_the_earliest_page_then_the_earliest_box() -> None:
    file = prediction([field("a", "p0-first", 0.8), field("a", "p0-second", 0.8)], [field("a", "p1", 0.8)])
    data = assert_valid(normalize(file))
    assert data["fields"]["a"]["value"] == "p0-first"
    assert [o["value"] for o in data["fields"]["a"]["others"]] == ["p0-second", "p1"]
    later_first = prediction([field("a", "p0", 0.8)], [field("a", "p1", 0.8)])
    assert normalize(later_first).fields["a"].page == 0


# ----------------------------------------------------------------------------------------- pages


def test_all_pages_are_kept_even_empty_ones() -> None:
    file = prediction([field("fecha", "01/02/2024")], [], [field("total", "5,00")])
    data = assert_valid(normalize(file))
    assert data["pages"] == 3
    assert (data["fields"]["fecha"]["page"], data["fields"]["total"]["page"]) == (0, 2)


def test_no_pages_is_an_empty_document() -> None:
    data = assert_valid(normalize(FilePrediction(request_file_id="f1", ready=False)))
    assert (data["pages"], data["fields"], data["tables"]) == (0, {}, [])


# ---------------------------------------------------------------------------------------- tables


def test_table_rows_are_keyed_by_column_in_row_order() -> None:
    cells = [
        {"row": 2, "col": 1, "label": "descripcion", "text": "AdBlue"},
        {"row": 1, "col": 1, "label": "descripcion", "text": "Gasoil"},
        {"row": 1, "col": 2, "label": "cantidad", "text": "50L"},
        {"row": 2, "col": 2, "label": "cantidad", "text": "10L"},
    ]
    data = assert_valid(normalize(prediction([table("lineas_detalle", cells)])))
    assert data["tables"] == [
        {
            "label": "lineas_detalle",
            "page": 0,
            "rows": [
                {"descripcion": "Gasoil", "cantidad": "50L"},
                {"descripcion": "AdBlue", "cantidad": "10L"},
            ],
        }
    ]


def test_missing_cells_are_none_and_unlabelled_columns_get_names() -> None:
    cells = [
        {"row": 0, "col": 0, "label": "a", "text": "a0"},
        {"row": 0, "col": 3, "label": "", "text": "x0"},
        {"row": 1, "col": 0, "label": "a", "text": "a1"},
        {"row": 1, "label": None, "text": "y1"},
    ]
    data = assert_valid(normalize(prediction([table(None, cells)])))
    [only] = data["tables"]
    assert only["label"] == "table"
    assert only["rows"] == [{"a": "a0", "col_3": "x0", "col": None}, {"a": "a1", "col_3": None, "col": "y1"}]


def test_tables_on_several_pages_are_all_kept_and_are_not_fields() -> None:
    row = [{"row": 0, "col": 0, "label": "c", "text": "v"}]
    file = prediction([table("lineas", row)], [field("total", "1,00"), table("lineas", row)])
    data = assert_valid(normalize(file))
    assert [(t["label"], t["page"]) for t in data["tables"]] == [("lineas", 0), ("lineas", 1)]
    assert set(data["fields"]) == {"total"}


def test_a_table_without_cells_has_no_rows() -> None:
    data = assert_valid(normalize(prediction([table("vacia", [])])))
    assert data["tables"] == [{"label": "vacia", "page": 0, "rows": []}]


# ----------------------------------------------------------------------------- validation, review


def test_validation_by_the_rules_file() -> None:
    file = prediction([field("total", "ilegible", 0.3), field("matricula", "ABC-1234")])
    data = assert_valid(normalize(file, load_rules(FUEL_RULES)))
    assert data["validation"]["status"] == "failed"
    assert [(i["field"], i["code"]) for i in data["validation"]["issues"]] == [
        ("fecha", "missing"),
        ("total", "low_confidence"),
        ("total", "bad_format"),
        ("matricula", "pattern_mismatch"),
    ]


def test_without_rules_validation_passes() -> None:
    data = assert_valid(normalize(prediction([field("fecha", "no es fecha", 0.01)])))
    assert data["validation"] == {"status": "passed", "issues": []}


@pytest.mark.parametrize("review", ["pending", "approved", "rejected", "auto_approved"])
def test_review_is_carried(review: str) -> None:
    assert assert_valid(normalize(prediction([]), review=review))["review"] == review


def test_request_metadata_and_file_id_are_carried() -> None:
    data = assert_valid(normalize(prediction([], file_id="abc", metadata={"bucket": "in", "n": 1})))
    assert data["nanonets"] == {
        "model_id": "model-1",
        "request_file_id": "abc",
        "request_metadata": {"bucket": "in", "n": 1},
    }


def test_processed_at_is_utc_with_z() -> None:
    madrid = datetime(2026, 3, 1, 12, 30, 15, 999, tzinfo=timezone(timedelta(hours=1)))
    assert normalize(prediction([]), when=madrid).processed_at == "2026-03-01T11:30:15Z"


def test_normalize_is_pure() -> None:
    file = prediction(
        [field("total", "1,00", 0.2), field("total", "2,00", 0.8)], [table("t", [{"row": 0, "text": "x"}])]
    )
    assert normalize(file) == normalize(file)
    assert file.pages[0].boxes[0].ocr_text == "1,00"


# ------------------------------------------------------------------------ reviewed values (1.1)


def reviewed_file(*pages: tuple[list[Prediction], list[Prediction] | None]) -> FilePrediction:
    """Pages as (model's boxes, a person's moderated boxes or None when the page was not reviewed)."""
    return FilePrediction(
        request_file_id="f1",
        pages=tuple(
            PagePrediction(
                page=i, boxes=tuple(model), moderated_boxes=None if person is None else tuple(person)
            )
            for i, (model, person) in enumerate(pages)
        ),
    )


def test_a_correction_in_nanonets_wins_and_keeps_the_model_guess_beside_it() -> None:
    file = reviewed_file(([field("total", "45,30 €", 0.31)], [field("total", "45,90 €", 0.31)]))
    data = assert_valid(normalize(file))
    total = data["fields"]["total"]
    assert (total["value"], total["normalized"], total["predicted"], total["source"]) == (
        "45,90 €",
        45.9,
        "45,30 €",
        "nanonets_review",
    )


def test_a_value_the_reviewer_left_as_is_stays_the_model_s() -> None:
    file = reviewed_file(([field("fecha", "04/11/2026", 0.97)], [field("fecha", "04/11/2026", 0.97)]))
    fecha = assert_valid(normalize(file))["fields"]["fecha"]
    assert (fecha["value"], fecha["predicted"], fecha["source"], fecha["confidence"]) == (
        "04/11/2026",
        None,
        "model",
        0.97,
    )


def test_a_field_the_reviewer_added_has_no_model_value() -> None:
    file = reviewed_file(
        ([field("fecha", "04/11/2026")], [field("fecha", "04/11/2026"), field("iva", "9,40")])
    )
    iva = assert_valid(normalize(file))["fields"]["iva"]
    assert (iva["value"], iva["predicted"], iva["source"]) == ("9,40", None, "nanonets_review")


def test_a_field_the_reviewer_removed_stays_visible_as_an_empty_value() -> None:
    rules = load_rules(FUEL_RULES)
    file = reviewed_file(
        (
            [field("fecha", "04/11/2026"), field("total", "99,99 €", 0.2, xmin=1, ymin=2, xmax=3, ymax=4)],
            [field("fecha", "04/11/2026")],
        )
    )
    data = assert_valid(normalize(file, rules))
    assert data["fields"]["total"] == {
        "value": "",
        "normalized": None,
        "type": "amount",
        "confidence": None,
        "page": 0,
        "bbox": None,
        "others": [],
        "predicted": "99,99 €",
        "source": "nanonets_review",
    }
    assert [(i["field"], i["code"]) for i in data["validation"]["issues"]] == [("total", "missing")]


def test_pages_nobody_reviewed_keep_the_model_values() -> None:
    file = reviewed_file(
        ([field("total", "1,00", 0.5)], [field("total", "2,00", 0.5)]),
        ([field("total", "3,00", 0.9), field("fecha", "01/01/2026")], None),
    )
    data = assert_valid(normalize(file))
    total = data["fields"]["total"]
    # the best candidate is the model's 0.9 on page 1; the person's value on page 0 is kept in others
    assert (total["value"], total["source"], total["predicted"], total["page"]) == ("3,00", "model", None, 1)
    assert [o["value"] for o in total["others"]] == ["2,00"]
    assert data["fields"]["fecha"]["source"] == "model"


def test_reviewed_tables_replace_the_model_tables() -> None:
    cells = [{"row": 1, "col": 1, "label": "descripcion", "text": "Gasoil"}]
    fixed = [{"row": 1, "col": 1, "label": "descripcion", "text": "Gasoleo A"}]
    file = reviewed_file(([table("lineas", cells)], [table("lineas", fixed)]), ([table("otra", cells)], None))
    data = assert_valid(normalize(file))
    assert [(t["label"], t["rows"]) for t in data["tables"]] == [
        ("lineas", [{"descripcion": "Gasoleo A"}]),
        ("otra", [{"descripcion": "Gasoil"}]),
    ]


def test_a_corrected_low_confidence_value_does_not_fail_min_confidence() -> None:
    """The blurred galp total (0.31, under min_confidence 0.5) corrected by a person passes."""
    rules = load_rules(FUEL_RULES)
    model = [field("fecha", "19/11/2026", 0.9), field("total", "45,30 €", 0.31)]
    unreviewed = normalize(reviewed_file((model, None)), rules)
    assert [(i.field, i.code) for i in unreviewed.validation.issues] == [("total", "low_confidence")]
    person = [field("fecha", "19/11/2026", 0.9), field("total", "45,90 €", 0.31)]
    assert normalize(reviewed_file((model, person)), rules).validation.status == "passed"


# ------------------------------------------------------------------------------ scores and geometry


def test_confidence_is_0_1_or_null_whatever_the_scale() -> None:
    file = prediction(
        [field("a", "x", 0.93), field("b", "y", 99.99), field("c", "z", 0), field("d", "w", None)]
    )
    data = assert_valid(normalize(file))
    assert [data["fields"][k]["confidence"] for k in "abcd"] == [0.93, 0.9999, None, None]


def test_a_not_scored_value_does_not_trip_min_confidence() -> None:
    rules = load_rules(FUEL_RULES)
    file = prediction([field("fecha", "19/11/2026", 0), field("total", "45,30 €", 0)])
    document = normalize(file, rules)
    assert document.fields["total"].confidence is None
    assert document.validation.status == "passed"


def test_a_percentage_score_ranks_with_the_0_1_ones() -> None:
    file = prediction([field("total", "10,00", 0.8), field("total", "20,00", 95), field("total", "30,00", 0)])
    total = normalize(file).fields["total"]
    assert (total.value, total.confidence) == ("20,00", 0.95)
    assert [(o.value, o.confidence) for o in total.others] == [("10,00", 0.8), ("30,00", None)]


def test_pages_info_keeps_every_page_and_its_size() -> None:
    file = FilePrediction(
        request_file_id="f1",
        pages=(PagePrediction(page=0, width=2550, height=3300), PagePrediction(page=1)),
    )
    data = assert_valid(normalize(file))
    assert data["pages_info"] == [
        {"page": 0, "width": 2550, "height": 3300},
        {"page": 1, "width": None, "height": None},
    ]


def test_one_based_cells_keep_their_rows_in_order() -> None:
    cells = [
        {"row": 2, "col": 1, "label": "", "text": "b1"},
        {"row": 1, "col": 2, "label": "", "text": "a2"},
        {"row": 1, "col": 1, "label": "", "text": "a1"},
        {"row": 2, "col": 2, "label": "", "text": "b2", "score": 0},
    ]
    [only] = assert_valid(normalize(prediction([table("t", cells)])))["tables"]
    assert only["rows"] == [{"col_1": "a1", "col_2": "a2"}, {"col_1": "b1", "col_2": "b2"}]


# ------------------------------------------------------------------------------------- properties

LABELS = st.sampled_from(["fecha", "total", "cantidad", "matricula", "otro"])
TEXTS = st.sampled_from(
    ["23/12/2025", "31/02/2024", "45,99 €", "50L", "1234-ABC", "", "x", "12,5"]
) | st.text(max_size=10)
BOXES = st.builds(field, LABELS, TEXTS, st.none() | st.floats(0, 1) | st.integers(0, 100) | st.just(99.99))
TABLES = st.builds(
    table,
    st.none() | LABELS,
    st.lists(
        st.fixed_dictionaries(
            {"text": st.text(max_size=5)},
            optional={
                "row": st.integers(0, 3),
                "col": st.integers(0, 3),
                "label": st.sampled_from(["a", "b", ""]),
            },
        ),
        max_size=6,
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(BOXES | TABLES, max_size=6), max_size=4), st.booleans())
def test_any_prediction_gives_a_valid_document_and_loses_nothing(
    pages: list[list[Prediction]], with_rules: bool
) -> None:
    file = prediction(*pages)
    document = normalize(file, load_rules(FUEL_RULES) if with_rules else None)
    assert_valid(document)
    assert document.pages == len(pages)
    boxes = [b for p in pages for b in p]
    fields_in = sorted((b.label, b.ocr_text) for b in boxes if b.type == "field")
    fields_out = sorted((label, c.value) for label, f in document.fields.items() for c in [f, *f.others])
    assert fields_in == fields_out
    assert len(document.tables) == sum(1 for b in boxes if b.type == "table")
    for f in document.fields.values():
        scores = [c.confidence if c.confidence is not None else -1.0 for c in [f, *f.others]]
        assert scores == sorted(scores, reverse=True)


PAGES = st.lists(
    st.tuples(
        st.lists(BOXES | TABLES, max_size=4), st.none() | st.lists(BOXES | TABLES, min_size=1, max_size=4)
    ),
    max_size=3,
)


@settings(max_examples=80, deadline=None)
@given(PAGES, st.booleans())
def test_reviewed_values_win_and_every_change_is_visible(
    pages: list[tuple[list[Prediction], list[Prediction] | None]], with_rules: bool
) -> None:
    file = reviewed_file(*pages)
    document = normalize(file, load_rules(FUEL_RULES) if with_rules else None)
    assert_valid(document)
    final = [b for model, person in pages for b in (model if person is None else person) if b.type == "field"]
    modelled = {b.label for model, _ in pages for b in model if b.type == "field"}
    removed = modelled - {b.label for b in final}
    out = sorted(
        (label, c.value)
        for label, f in document.fields.items()
        if label not in removed
        for c in [f, *f.others]
    )
    assert out == sorted((b.label, b.ocr_text) for b in final)
    for label in removed:  # shown as an empty value unless the model's guess was blank too
        if label in document.fields:
            gone = document.fields[label]
            assert (gone.value, gone.source, gone.others) == ("", "nanonets_review", [])
            assert gone.predicted is not None and gone.predicted.strip()
    for label, f in document.fields.items():
        assert f.confidence is None or 0 < f.confidence <= 1
        if f.source == "model":
            assert f.predicted is None
        else:
            assert f.source == "nanonets_review" and f.predicted != f.value
            assert f.predicted is not None or label not in modelled
