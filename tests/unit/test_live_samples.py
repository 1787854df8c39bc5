"""samples/webhooks/live-*.json (one body per live Nanonets shape) replayed through parse_payload and
normalize_file, compared with samples/expected/webhooks/ (all but processed_at), and checked by name for
the facts each sample is there for. Made by scripts/live_samples.py (run by `python -m
scripts.make_samples`); the replay is its `expected_output`, what the service does with a body."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scripts.live_samples import expected_output
from service.core.payloads import parse_payload
from service.models.nanonets import FilePrediction

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
LIVE = sorted((SAMPLES / "webhooks").glob("live-*.json"))
MODEL_ID = "7e3b1a52-4c1d-4f0e-9a57-2f6d8c0b1e43"  # the model the samples were submitted to
OUR_METADATA_KEYS = {"bucket", "key", "etag", "version_id", "token", "digest"}


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / "schemas" / "normalized-document-v1.1.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def body(name: str) -> Any:
    return json.loads((SAMPLES / "webhooks" / name).read_text(encoding="utf-8"))


def replay(name: str) -> tuple[FilePrediction, dict[str, Any]]:
    """What the service does with the body: one file, normalized with the fuel-receipt rules into the
    object our request_metadata names; the output valid by the shipped schema."""
    data = body(name)
    [file] = parse_payload(data)
    output = expected_output(data)
    _validator().validate(output)
    return file, output


def test_there_is_a_sample_of_every_live_shape() -> None:
    shapes = {path.name: body(path.name) for path in LIVE}
    assert any(isinstance(b, list) for b in shapes.values())  # bare array
    assert any(isinstance(b, dict) and isinstance(b.get("result"), dict) for b in shapes.values())  # export
    assert any(  # nested result[0].result
        isinstance(b, dict) and isinstance(b.get("result"), list) and "result" in b["result"][0]
        for b in shapes.values()
    )
    assert any(isinstance(b, dict) and "moderated_images" in b for b in shapes.values())  # retrieval


@pytest.mark.parametrize("path", LIVE, ids=[p.name for p in LIVE])
def test_live_sample_normalizes_to_its_expected_output(path: Path) -> None:
    file, output = replay(path.name)
    expected = json.loads((SAMPLES / "expected" / "webhooks" / path.name).read_text(encoding="utf-8"))
    assert {**output, "processed_at": None} == {**expected, "processed_at": None}
    assert output["nanonets"]["model_id"] == MODEL_ID
    assert set(file.request_metadata or {}) == OUR_METADATA_KEYS  # what the service sends, no file id
    assert file.model_id in (None, MODEL_ID)


def test_export_with_a_correction_and_an_approval() -> None:
    file, output = replay("live-export-approved-with-correction.json")
    total = output["fields"]["total"]
    assert (total["value"], total["normalized"], total["predicted"], total["source"]) == (
        "45,90 €",
        45.9,
        "45,30 €",
        "nanonets_review",
    )
    assert output["fields"]["fecha"]["source"] == "model"
    # the model's 0.31 would fail min_confidence 0.5; the person's value is not judged by it
    assert output["validation"]["status"] == "passed" and output["review"] == "approved"
    assert file.reviewed


def test_retrieval_with_a_reviewed_page_and_its_size() -> None:
    _, output = replay("live-retrieval-reviewed.json")
    plate = output["fields"]["matricula"]
    assert (plate["value"], plate["predicted"], plate["source"]) == (
        "7310-HJT",
        "7310 HJT",
        "nanonets_review",
    )
    assert output["validation"]["status"] == "passed"  # the corrected plate now matches the pattern
    assert output["pages_info"] == [{"page": 0, "width": 480, "height": 640}]
    assert output["review"] == "approved"


def test_nested_prediction_keeps_both_pages_and_their_sizes() -> None:
    _, output = replay("live-prediction-nested.json")
    assert output["pages"] == 2
    assert output["pages_info"] == [{"page": p, "width": 1240, "height": 1754} for p in (0, 1)]
    assert (output["fields"]["total"]["value"], output["fields"]["total"]["page"]) == ("1.452,00 €", 1)
    assert output["review"] == "pending"


def test_bare_array_of_unreviewed_page_objects() -> None:
    file, output = replay("live-bare-array.json")
    assert not file.reviewed and output["review"] == "pending"
    assert {f["source"] for f in output["fields"].values()} == {"model"}
    assert output["pages_info"] == [{"page": 0, "width": 1240, "height": 1754}]


def test_table_scored_99_99_and_0_and_an_unscored_total() -> None:
    file, output = replay("live-table-scores.json")
    table = next(box for box in file.pages[0].boxes if box.type == "table")
    assert table.score is None  # 0: not scored
    assert [cell.score for cell in table.cells] == [0.9999, None, 0.9999902]
    assert output["tables"][0]["rows"] == [
        {"descripcion": "Ultimate Diesel", "cantidad": "27,35 L", "importe": "41,02 EUR"}
    ]
    assert output["fields"]["total"]["confidence"] is None
    assert output["validation"] == {"status": "passed", "issues": []}  # not scored is not low confidence
