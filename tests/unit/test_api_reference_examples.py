"""The response examples of the official Nanonets API reference, replayed through the parser and normalizer.

Source: github.com/NanoNets/api-docs, nanonets_openapi_3.1.0.yaml, commit 54e4023 (see data/.../README.md).
Nobody here wrote these bodies, so they check our reading of Nanonets, not our own assumptions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.core.normalize import normalize_file
from service.core.payloads import parse_payload, parse_retrieval
from service.errors import PayloadRejected
from service.models.document import SourceRef
from service.models.nanonets import FilePrediction

DATA = Path(__file__).resolve().parent / "data" / "nanonets_api_reference"
FILE_ID = "0a0aa000-0000-0a0-aa00-000a0000000a"  # the reference's own example file id


def example(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def normalized(file: FilePrediction) -> dict[str, Any]:
    document = normalize_file(
        file,
        source=SourceRef(bucket="in", key="incoming/example.pdf"),
        model_id="model",
        rules=None,
        review=file.review,
        processed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return dict(json.loads(document.to_json_bytes()))


def test_the_prediction_example_parses_with_percent_scores_on_the_0_1_scale() -> None:
    file = parse_retrieval(example("prediction.json"), FILE_ID)
    assert file.ready and [p.page for p in file.pages] == [0]
    field, table = file.pages[0].boxes
    assert (field.label, field.score, field.ocr_text) == ("category1", 0.9, "string")
    assert (table.type, table.label, table.score) == ("table", "", 0.9999)
    assert [(c.row, c.col, c.score) for c in table.cells] == [
        (1, 1, 0.9999),
        (1, 2, 0.9999),
        (2, 1, 0.9999),
        (2, 2, 0.9999902),
    ]


def test_the_prediction_example_normalizes_to_a_valid_document() -> None:
    data = normalized(parse_retrieval(example("prediction.json"), FILE_ID))
    assert data["fields"]["category1"]["confidence"] == 0.9
    # 1-based rows in row order; the unlabelled table gets the generic name
    assert data["tables"] == [
        {
            "label": "table",
            "page": 0,
            "rows": [
                {"col 1": "ocr text 1", "col 2": "ocr text 2"},
                {"col 1": "ocr text 3", "col 2": "ocr text 4"},
            ],
        }
    ]


def test_the_prediction_example_as_a_webhook_names_no_file() -> None:
    """A sync answer carries no request_file_id: as a webhook it is refused, typed, not crashed on."""
    with pytest.raises(PayloadRejected) as caught:
        parse_payload(example("prediction.json"))
    assert caught.value.code == "no_request_file_id"


def test_the_async_example_is_the_nested_shape() -> None:
    [file] = parse_payload(example("async-nested.json"))
    assert file.request_file_id == "00000000-0000-0000-0000-000000000000"
    assert [(p.page, p.boxes) for p in file.pages] == [(55, ())]
    assert file.review == "pending"


def test_the_image_level_window_example_parses_by_file_id() -> None:
    body = example("image-level-inferences.json")
    # its pages carry only page ids: a page id is never taken for a file id
    with pytest.raises(PayloadRejected) as caught:
        parse_payload(body)
    assert caught.value.code == "no_request_file_id"
    file = parse_retrieval(body, FILE_ID)
    # no page index either: pages are numbered in the order they came
    assert [(p.page, [b.ocr_text for b in p.boxes]) for p in file.pages] == [(0, ["877541"]), (1, ["Apple"])]
    assert file.review == "pending"  # one page moderated, one not: approval is per file
    data = normalized(file)
    assert data["fields"]["invoice_id"]["value"] == "877541"
    assert data["fields"]["seller_name"]["value"] == "Apple"
