"""service.models.nanonets: the page and box objects, lenient on extras, numeric strings and score scales,
strict on type."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from service.models.nanonets import (
    AsyncAcceptedResponse,
    FilePrediction,
    ModeratedFileResponse,
    ModeratedPage,
    PageEntry,
    PagePrediction,
    Prediction,
    PredictionPage,
    PredictionResponse,
    TableCell,
    parse_request_metadata,
    score_to_confidence,
)

SEEDS = Path("/work/shared/seeds")
GUIDE = SEEDS / "nanonets-api-guide.es.md"
OPENAPI = SEEDS / "nanonets-ocr-openapi.yaml.txt"


def _guide_json_examples() -> list[Any]:
    if not GUIDE.exists():
        pytest.skip("seeds not available")
    blocks = re.findall(r"```json\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    return [json.loads(block) for block in blocks]


# Examples shaped after the response schemas of the OpenAPI seed (which carries no examples of its own).
ASYNC_ACCEPTED = {
    "message": "Success",
    "result": [
        {
            "message": "Success",
            "request_file_id": "5d0f2bd4-9a1b",
            "filepath": "uploadedfiles/x.pdf",
            "status": "queued",
        }
    ],
}
MODERATED_FILE = {
    "moderated_images_count": 1,
    "unmoderated_images_count": 1,
    "moderated_images": [
        {
            "model_id": "m-1",
            "day_since_epoch": 20445,
            "is_moderated": True,
            "id": "page-1",
            "url": "https://nanonets.s3.amazonaws.com/uploadedfiles/x.pdf",
            "predicted_boxes": [
                {
                    "id": "b1",
                    "label": "fecha",
                    "xmin": 1,
                    "ymin": 2,
                    "xmax": 3,
                    "ymax": 4,
                    "score": 0.95,
                    "ocr_text": "23/12/2025",
                    "type": "field",
                    "status": "correctly_predicted",
                    "page_no": 0,
                    "label_id": "l1",
                },
                {
                    "label": "lineas_detalle",
                    "type": "table",
                    "score": 0.8,
                    "cells": [
                        {
                            "id": "c1",
                            "row": 1,
                            "col": 1,
                            "label": "descripcion",
                            "text": "Gasoil",
                            "score": 0.9,
                            "verification_status": "correctly_predicted",
                            "status": "",
                            "failed_validation": "",
                            "label_id": "l2",
                        }
                    ],
                },
            ],
        }
    ],
    "unmoderated_images": [
        {
            "model_id": "m-1",
            "day_since_epoch": 20445,
            "is_moderated": False,
            "id": "page-2",
            "predicted_boxes": [],
        }
    ],
    "signed_urls": {"x.pdf": {"original": "https://..."}},
}


# ---------------------------------------------------------------------------------- seed examples


def test_the_seeds_are_where_the_tests_expect_them() -> None:
    if not SEEDS.exists():
        pytest.skip("seeds not available")
    text = OPENAPI.read_text(encoding="utf-8")
    for schema in (
        "PredictionResponse",
        "PredictionPage",
        "Prediction",
        "TableCell",
        "AsyncAcceptedResponse",
        "ModeratedFileResponse",
        "ModeratedPage",
    ):
        assert f"{schema}:" in text


def test_every_guide_example_response_parses() -> None:
    responses = [e for e in _guide_json_examples() if isinstance(e, dict) and "result" in e]
    assert responses
    for example in responses:
        parsed = PredictionResponse.model_validate(example)
        assert parsed.message == "Success"
        [page] = parsed.result
        assert (page.input, page.page, page.request_file_id, page.processing_type) == (
            "recibo.pdf",
            0,
            "file_789",
            "",
        )
        assert [(p.label, p.type) for p in page.prediction] == [
            ("fecha", "field"),
            ("total", "field"),
            ("lineas_detalle", "table"),
        ]
        fecha = page.prediction[0]
        assert (fecha.id, fecha.ocr_text, fecha.score, fecha.page_no, fecha.label_id) == (
            "abc123",
            "23/12/2025",
            0.95,
            0,
            "label_001",
        )
        assert fecha.bbox() == [100.0, 200.0, 250.0, 230.0]
        cells = page.prediction[2].cells
        assert [(c.row, c.col, c.label, c.text, c.score) for c in cells] == [
            (1, 1, "descripcion", "Gasoil", 0.91),
            (1, 2, "cantidad", "50L", 0.88),
        ]
        assert parsed.signed_urls == {"original": "https://...", "original_with_long_expiry": "https://..."}


def test_guide_example_round_trips_without_loss() -> None:
    [example] = [e for e in _guide_json_examples() if isinstance(e, dict) and "result" in e]
    dumped = PredictionResponse.model_validate(example).model_dump(exclude_unset=True)
    assert dumped == example


def test_moderated_file_response_parses() -> None:
    parsed = ModeratedFileResponse.model_validate(MODERATED_FILE)
    assert (parsed.moderated_images_count, parsed.unmoderated_images_count) == (1, 1)
    [moderated] = parsed.moderated_images
    assert moderated.is_moderated is True and moderated.day_since_epoch == 20445
    assert [b.label for b in moderated.predicted_boxes] == ["fecha", "lineas_detalle"]
    assert moderated.predicted_boxes[1].cells[0].verification_status == "correctly_predicted"
    assert parsed.unmoderated_images[0].predicted_boxes == []


def test_async_accepted_response_parses() -> None:
    parsed = AsyncAcceptedResponse.model_validate(ASYNC_ACCEPTED)
    assert parsed.result[0].request_file_id == "5d0f2bd4-9a1b" and parsed.result[0].status == "queued"


def test_everything_is_optional() -> None:
    for model in (
        PredictionResponse,
        PredictionPage,
        Prediction,
        TableCell,
        ModeratedFileResponse,
        ModeratedPage,
        AsyncAcceptedResponse,
    ):
        model.model_validate({})
    assert Prediction.model_validate({}).type == "field"


# --------------------------------------------------------------------------------------- leniency


def test_extra_keys_are_kept_at_every_level() -> None:
    body = {
        "message": "Success",
        "new_top": 1,
        "result": [
            {
                "page": 0,
                "new_page": {"a": 1},
                "prediction": [{"label": "x", "new_box": [1], "cells": [{"text": "t", "new_cell": "c"}]}],
            }
        ],
    }
    parsed = PredictionResponse.model_validate(body)
    assert parsed.model_extra == {"new_top": 1}
    assert parsed.result[0].model_extra == {"new_page": {"a": 1}}
    assert parsed.result[0].prediction[0].model_extra == {"new_box": [1]}
    assert parsed.result[0].prediction[0].cells[0].model_extra == {"new_cell": "c"}
    assert parsed.model_dump(exclude_unset=True) == body


def test_extra_keys_on_retrieval_pages_are_kept() -> None:
    page = ModeratedPage.model_validate({"status": "rejected", "request_file_id": "f", "page": 2})
    assert page.model_extra == {"status": "rejected"}
    assert (page.request_file_id, page.page) == ("f", 2)


def test_numeric_strings_are_accepted() -> None:
    box = Prediction.model_validate(
        {"score": "0.95", "xmin": "100", "ymin": "200.5", "xmax": 250, "ymax": "230", "page_no": "1"}
    )
    assert (box.score, box.page_no) == (0.95, 1)
    assert box.bbox() == [100.0, 200.5, 250.0, 230.0]
    cell = TableCell.model_validate({"row": "1", "col": "2", "score": "0.5", "xmin": "3"})
    assert (cell.row, cell.col, cell.score, cell.xmin) == (1, 2, 0.5, 3.0)
    page = PredictionPage.model_validate({"page": "3", "size": {"width": "612", "height": 792}})
    assert page.page == 3 and page.size is not None and (page.size.width, page.size.height) == (612.0, 792.0)
    counts = ModeratedFileResponse.model_validate(
        {"moderated_images_count": "2", "unmoderated_images_count": "0"}
    )
    assert (counts.moderated_images_count, counts.unmoderated_images_count) == (2, 0)
    assert ModeratedPage.model_validate({"day_since_epoch": "20445"}).day_since_epoch == 20445


def test_nulls_become_defaults() -> None:
    box = Prediction.model_validate(
        {"label": None, "ocr_text": None, "type": None, "cells": None, "score": None}
    )
    assert (box.label, box.ocr_text, box.type, box.cells, box.score) == ("", "", "field", [], None)
    cell = TableCell.model_validate({"text": None, "label": None})
    assert (cell.text, cell.label) == ("", "")
    assert PredictionPage.model_validate({"prediction": None}).prediction == []
    assert ModeratedPage.model_validate({"predicted_boxes": None}).predicted_boxes == []


def test_empty_type_is_a_field() -> None:
    assert Prediction.model_validate({"type": ""}).type == "field"


def test_request_metadata_may_be_a_string_or_an_object() -> None:
    assert PredictionPage.model_validate({"request_metadata": '{"a": 1}'}).request_metadata == '{"a": 1}'
    assert PredictionPage.model_validate({"request_metadata": {"a": 1}}).request_metadata == {"a": 1}


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ({"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}, [1.0, 2.0, 3.0, 4.0]),
        ({"xmin": 0, "ymin": 0, "xmax": 0, "ymax": 0}, [0.0, 0.0, 0.0, 0.0]),
        ({"xmin": 1, "ymin": 2, "xmax": 3}, None),
        ({}, None),
    ],
)
def test_bbox(box: dict[str, Any], expected: list[float] | None) -> None:
    assert Prediction.model_validate(box).bbox() == expected


# ---------------------------------------------------------------------------------------- strictness


@pytest.mark.parametrize(
    ("score", "confidence"),
    [
        (0.5, 0.5),
        ("0.25", 0.25),
        (1, 1.0),  # exactly 1 reads on the 0-1 scale, not as 1 %
        (1.0, 1.0),
        ("1", 1.0),
        (1.01, 0.0101),
        (2, 0.02),
        (95, 0.95),
        (99.99, 0.9999),  # the API reference's table cells
        ("99.99", 0.9999),
        (99.99902, 0.9999902),
        (100, 1.0),
    ],
)
def test_scores_on_either_scale_become_0_1(score: Any, confidence: float) -> None:
    assert Prediction.model_validate({"score": score}).score == confidence
    assert TableCell.model_validate({"score": score}).score == confidence
    assert score_to_confidence(score) == confidence


@pytest.mark.parametrize(
    "score",
    [0, 0.0, "0", None, -0.01, -5, 100.01, 1e6, float("nan"), float("inf"), "nan", "high", "", True, [1], {}],
)
def test_unscored_or_absurd_scores_are_null_and_never_fail_the_box(score: Any) -> None:
    """0 is Nanonets' "not scored"; negative, above 100, NaN and non-numbers say nothing either."""
    assert Prediction.model_validate({"score": score, "label": "total"}).score is None
    assert TableCell.model_validate({"score": score, "text": "x"}).score is None


def test_a_table_scored_on_0_100_parses_whole() -> None:
    body = {
        "result": [{"prediction": [{"score": 0.5}, {"type": "table", "score": 0, "cells": [{"score": 7}]}]}]
    }
    parsed = PredictionResponse.model_validate(body)
    [field, table] = parsed.result[0].prediction
    assert (field.score, table.score, table.cells[0].score) == (0.5, None, 0.07)


@pytest.mark.parametrize("kind", ["checkbox", "FIELD", "Table", "line_item", 1])
def test_unknown_type_is_rejected(kind: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Prediction.model_validate({"type": kind})
    assert caught.value.errors()[0]["loc"] == ("type",)


def test_a_bad_box_deep_in_a_response_is_reported_where_it_is() -> None:
    body = {"result": [{"prediction": [{"score": 0.5}, {"type": "checkbox"}]}]}
    with pytest.raises(ValidationError) as caught:
        PredictionResponse.model_validate(body)
    assert caught.value.errors()[0]["loc"] == ("result", 0, "prediction", 1, "type")


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (PredictionResponse, {"result": "x"}),
        (PredictionResponse, {"result": [1]}),
        (PredictionPage, {"page": "first"}),
        (Prediction, {"cells": "x"}),
        (Prediction, {"page_no": 1.5}),
        (TableCell, {"row": "a"}),
        (ModeratedFileResponse, {"moderated_images": {"a": 1}}),
        (ModeratedPage, {"is_moderated": "perhaps"}),
    ],
)
def test_wrong_structure_is_rejected(model: type[Any], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


# ------------------------------------------------------------------------------ request metadata


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ('{"bucket": "in", "key": "incoming/a.pdf"}', {"bucket": "in", "key": "incoming/a.pdf"}),
        ({"conductor_id": "123"}, {"conductor_id": "123"}),
        ("conductor 123", {"raw": "conductor 123"}),
        ("[1, 2]", {"raw": "[1, 2]"}),
        ("42", {"raw": "42"}),
        ('"text"', {"raw": '"text"'}),
        ("{broken", {"raw": "{broken"}),
    ],
)
def test_parse_request_metadata(raw: Any, expected: dict[str, Any] | None) -> None:
    assert parse_request_metadata(raw) == expected


# ---------------------------------------------------------------------------------- file-level view


def test_file_prediction_defaults_and_is_frozen() -> None:
    file = FilePrediction(request_file_id="f")
    assert (file.pages, file.request_metadata, file.review, file.ready) == ((), None, "pending", True)
    with pytest.raises(ValidationError):
        file.review = "approved"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        FilePrediction(request_file_id="f", review="auto_approved")  # type: ignore[arg-type]
    page = PagePrediction(page=0)
    with pytest.raises(ValidationError):
        page.page = 1  # type: ignore[misc]
    assert (file.model_id, file.reviewed) == (None, False)


# A page object as live traffic shows it (shared NANONETS_LIVE.md): page id in `id`, box-level `page`,
# `size`, `moderated_boxes` null until reviewed, 1-based cells with spans, newer-account keys.
LIVE_PAGE = {
    "model_id": "m-1",
    "day_since_epoch": 20445,
    "hour_of_day": 9,
    "is_moderated": False,
    "id": "page-0-id",
    "url": "uploadedfiles/x/PredictionImages/0.jpeg",
    "predicted_boxes": [
        {
            "id": "b1",
            "label": "total",
            "xmin": 10,
            "ymin": 20,
            "xmax": 30,
            "ymax": 40,
            "score": 0.93,
            "ocr_text": "45,30 €",
            "type": "field",
            "page": 0,
            "status": "correctly_predicted",
            "validation_status": "",
            "lookup_edited": False,
            "label_id": "l1",
        },
        {
            "id": "b2",
            "label": "lineas",
            "type": "table",
            "score": 0,
            "page": 0,
            "ocr_text": "table",
            "cells": [
                {
                    "row": 1,
                    "col": 1,
                    "row_span": 1,
                    "col_span": 2,
                    "label": "desc",
                    "text": "Gasoil",
                    "score": 99.99,
                    "row_label": "",
                    "failed_validation": "",
                    "verification_status": "x",
                }
            ],
            "grid_cells": [{"row": 1}],
        },
    ],
    "moderated_boxes": None,
    "size": {"width": 2550, "height": 3300},
    "page": 0,
    "request_file_id": "file-1",
    "original_file_name": "a.pdf",
    "file_url": "https://signed",
    "approval_status": "pending",
    "current_stage_id": "s1",
    "export_status": "",
    "assigned_members": [],
    "updated_at": "2026-11-24T09:00:00Z",
}


def test_a_live_page_object_parses_with_its_geometry_and_review_keys() -> None:
    page = PageEntry.model_validate(LIVE_PAGE)
    assert (page.id, page.request_file_id, page.page, page.approval_status) == (
        "page-0-id",
        "file-1",
        0,
        "pending",
    )
    assert page.size is not None and (page.size.width, page.size.height) == (2550, 3300)
    assert page.moderated_boxes is None and page.prediction == []
    total, lines = page.predicted_boxes
    assert (total.page, total.page_index(), total.score) == (0, 0, 0.93)
    assert lines.score is None  # "not scored"
    [cell] = lines.cells
    assert (cell.row, cell.col, cell.row_span, cell.col_span, cell.score) == (1, 1, 1, 2, 0.9999)
    assert page.model_extra is not None and page.model_extra["current_stage_id"] == "s1"
    assert page.model_dump(exclude_unset=True)["predicted_boxes"][1]["grid_cells"] == [{"row": 1}]


@pytest.mark.parametrize(
    ("page", "page_no", "index"), [(2, None, 2), (None, 1, 1), (2, 5, 2), (-1, 3, 3), (None, -1, None)]
)
def test_box_page_wins_over_the_legacy_page_no(page: Any, page_no: Any, index: int | None) -> None:
    assert Prediction.model_validate({"page": page, "page_no": page_no}).page_index() == index


def test_the_seed_page_names_are_the_same_page_object() -> None:
    assert PredictionPage is PageEntry and ModeratedPage is PageEntry


def test_reviewed_boxes_are_the_final_boxes_of_a_page() -> None:
    model = (Prediction(label="total", ocr_text="45,30"),)
    person = (Prediction(label="total", ocr_text="45,90"),)
    unreviewed = PagePrediction(page=0, boxes=model, width=100, height=200)
    reviewed = PagePrediction(page=1, boxes=model, moderated_boxes=person)
    assert (unreviewed.reviewed, unreviewed.final_boxes) == (False, model)
    assert (reviewed.reviewed, reviewed.final_boxes) == (True, person)
    file = FilePrediction(request_file_id="f", pages=(unreviewed, reviewed), model_id="m")
    assert file.reviewed and file.model_id == "m"
    assert not FilePrediction(request_file_id="f", pages=(unreviewed,)).reviewed
