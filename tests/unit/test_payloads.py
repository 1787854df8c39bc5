"""service.core.payloads: webhook and retrieval bodies → one FilePrediction per file."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.payloads import parse_payload, parse_retrieval
from service.errors import PayloadRejected
from service.models.nanonets import FilePrediction

SEEDS = Path("/work/shared/seeds")
REPO = Path(__file__).resolve().parents[2]


def _seed_response() -> dict[str, Any]:
    """The prediction response of the seeds' API guide (its only JSON example)."""
    guide = SEEDS / "nanonets-api-guide.es.md"
    if not guide.exists():
        pytest.skip("seeds not available")
    blocks = re.findall(r"```json\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)
    responses = [json.loads(block) for block in blocks if '"result"' in block]
    assert responses, "the guide has no prediction response example"
    return responses[0]


def box(label: str, text: str, score: float | None = 0.9, **extra: Any) -> dict[str, Any]:
    return {"label": label, "ocr_text": text, "score": score, "type": "field", **extra}


def page(file_id: str | None, index: int | None, *boxes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"message": "Success", "prediction": list(boxes), **extra}
    if file_id is not None:
        entry["request_file_id"] = file_id
    if index is not None:
        entry["page"] = index
    return entry


def retrieval_page(
    file_id: str | None, index: int | None, *boxes: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model_id": "m",
        "day_since_epoch": 20000,
        "predicted_boxes": list(boxes),
        **extra,
    }
    if file_id is not None:
        entry["request_file_id"] = file_id
    if index is not None:
        entry["page"] = index
    return entry


def _summary(files: list[FilePrediction]) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    return [(f.request_file_id, [(p.page, [b.ocr_text for b in p.boxes]) for p in f.pages]) for f in files]


# ----------------------------------------------------------------------------- prediction response


def test_seed_prediction_response() -> None:
    [file] = parse_payload(_seed_response())
    assert file.request_file_id == "file_789"
    assert file.ready is True and file.review == "pending"
    assert [p.page for p in file.pages] == [0]
    labels = [(b.label, b.type) for b in file.pages[0].boxes]
    assert labels == [("fecha", "field"), ("total", "field"), ("lineas_detalle", "table")]
    assert file.pages[0].boxes[0].ocr_text == "23/12/2025"
    assert [c.text for c in file.pages[0].boxes[2].cells] == ["Gasoil", "50L"]


def test_multi_page_out_of_order_is_sorted() -> None:
    body = {
        "message": "Success",
        "result": [
            page("f1", 2, box("c", "third")),
            page("f1", 0, box("a", "first")),
            page("f1", 1, box("b", "second")),
        ],
    }
    [file] = parse_payload(body)
    assert _summary([file]) == [("f1", [(0, ["first"]), (1, ["second"]), (2, ["third"])])]


def test_several_files_in_one_body_are_grouped() -> None:
    body = {
        "result": [
            page("f2", 1, box("x", "f2p1")),
            page("f1", 0, box("x", "f1p0")),
            page("f2", 0, box("x", "f2p0")),
            page("f1", 1, box("x", "f1p1")),
        ]
    }
    files = parse_payload(body)
    assert _summary(files) == [
        ("f2", [(0, ["f2p0"]), (1, ["f2p1"])]),
        ("f1", [(0, ["f1p0"]), (1, ["f1p1"])]),
    ]


def test_a_page_delivered_twice_is_kept_once_with_the_fuller_copy() -> None:
    body = {
        "result": [
            page("f1", 0, box("a", "1")),
            page("f1", 0, box("a", "1"), box("b", "2")),
            page("f1", 0, box("a", "1")),
        ]
    }
    assert _summary(parse_payload(body)) == [("f1", [(0, ["1", "2"])])]


def test_page_index_falls_back_to_page_no_then_position() -> None:
    by_page_no = {
        "result": [page("f", None, box("a", "b", page_no=1)), page("f", None, box("a", "a", page_no=0))]
    }
    assert _summary(parse_payload(by_page_no)) == [("f", [(0, ["a"]), (1, ["b"])])]
    by_position = {"result": [page("f", None, box("a", "a")), page("f", None, box("a", "b"))]}
    assert _summary(parse_payload(by_position)) == [("f", [(0, ["a"]), (1, ["b"])])]


def test_a_page_without_predictions_still_counts() -> None:
    [file] = parse_payload({"result": [page("f", 0, box("a", "x")), page("f", 1)]})
    assert [(p.page, len(p.boxes)) for p in file.pages] == [(0, 1), (1, 0)]


def test_top_level_request_file_id_is_the_fallback() -> None:
    [file] = parse_payload({"request_file_id": "top", "result": [page(None, 0, box("a", "x"))]})
    assert file.request_file_id == "top"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ('{"bucket": "in", "key": "incoming/a.pdf"}', {"bucket": "in", "key": "incoming/a.pdf"}),
        ({"conductor_id": "123"}, {"conductor_id": "123"}),
        ("conductor 123", {"raw": "conductor 123"}),
        ("[1, 2]", {"raw": "[1, 2]"}),
        ("", None),
    ],
)
def test_request_metadata_is_decoded(metadata: Any, expected: Any) -> None:
    [file] = parse_payload({"result": [page("f", 0, box("a", "x"), request_metadata=metadata)]})
    assert file.request_metadata == expected


def test_request_metadata_of_any_page_is_used() -> None:
    body = {"result": [page("f", 0), page("f", 1, request_metadata='{"k": 1}')]}
    assert parse_payload(body)[0].request_metadata == {"k": 1}


def test_async_accepted_entries_are_not_files() -> None:
    body = {
        "message": "Success",
        "result": [{"message": "Success", "request_file_id": "f", "filepath": "a.pdf"}],
    }
    assert parse_payload(body) == []


def test_empty_result_is_no_files() -> None:
    assert parse_payload({"message": "Success", "result": []}) == []


@pytest.mark.parametrize(
    ("extra", "review"),
    [({"status": "REJECTED"}, "rejected"), ({"is_rejected": True}, "rejected"), ({}, "pending")],
)
def test_rejection_hint_on_the_body(extra: dict[str, Any], review: str) -> None:
    [file] = parse_payload({"result": [page("f", 0, box("a", "x"))], **extra})
    assert file.review == review


def test_numeric_strings_are_accepted() -> None:
    [file] = parse_payload(
        {"result": [page("f", "1", box("a", "x", score="0.5", xmin="1", ymin="2", xmax="3", ymax="4"))]}
    )  # type: ignore[arg-type]
    [only] = file.pages
    assert only.page == 1
    assert only.boxes[0].score == 0.5 and only.boxes[0].bbox() == [1.0, 2.0, 3.0, 4.0]


# ------------------------------------------------------------------------------ retrieval response


def test_retrieval_moderated_pages_are_approved() -> None:
    body = {
        "moderated_images_count": 2,
        "moderated_images": [retrieval_page("f", 1, box("a", "y")), retrieval_page("f", 0, box("a", "x"))],
    }
    [file] = parse_payload(body)
    assert file.review == "approved"
    assert _summary([file]) == [("f", [(0, ["x"]), (1, ["y"])])]


def test_retrieval_unmoderated_pages_are_pending() -> None:
    [file] = parse_payload(
        {"moderated_images": [], "unmoderated_images": [retrieval_page("f", 0, box("a", "x"))]}
    )
    assert file.review == "pending"


def test_retrieval_partly_moderated_file_is_pending() -> None:
    body = {
        "moderated_images": [retrieval_page("f", 0, box("a", "x"))],
        "unmoderated_images": [retrieval_page("f", 1, box("a", "y"))],
    }
    [file] = parse_payload(body)
    assert file.review == "pending" and [p.page for p in file.pages] == [0, 1]


def test_retrieval_rejected_page_status() -> None:
    [file] = parse_payload({"unmoderated_images": [retrieval_page("f", 0, box("a", "x"), status="rejected")]})
    assert file.review == "rejected"


def test_retrieval_several_files_in_a_time_window() -> None:
    body = {
        "moderated_images": [retrieval_page("a", 0, box("t", "a0"))],
        "unmoderated_images": [
            retrieval_page("b", 0, box("t", "b0")),
            retrieval_page("a", 1, box("t", "a1")),
        ],
    }
    files = {f.request_file_id: f for f in parse_payload(body)}
    assert _summary([files["a"]]) == [("a", [(0, ["a0"]), (1, ["a1"])])]
    assert _summary([files["b"]]) == [("b", [(0, ["b0"])])]
    assert files["a"].review == "pending" and files["b"].review == "pending"


def test_parse_retrieval_uses_the_requested_file_id_for_pages_without_one() -> None:
    file = parse_retrieval(
        {"moderated_images": [retrieval_page(None, 0, box("a", "x"))], "unmoderated_images": []}, "f1"
    )
    assert file.request_file_id == "f1" and file.ready and file.review == "approved"
    assert _summary([file]) == [("f1", [(0, ["x"])])]


def test_parse_retrieval_not_ready_while_no_page() -> None:
    file = parse_retrieval({"moderated_images": [], "unmoderated_images": []}, "f1")
    assert file == FilePrediction(request_file_id="f1", ready=False)


def test_parse_retrieval_ignores_other_files() -> None:
    body = {
        "unmoderated_images": [
            retrieval_page("other", 0, box("a", "x")),
            retrieval_page("f1", 0, box("a", "mine")),
        ]
    }
    file = parse_retrieval(body, "f1")
    assert _summary([file]) == [("f1", [(0, ["mine"])])]
    assert (
        parse_retrieval({"unmoderated_images": [retrieval_page("other", 0, box("a", "x"))]}, "f1").ready
        is False
    )


def test_parse_retrieval_understands_the_prediction_shape_too() -> None:
    seed = _seed_response()
    file = parse_retrieval(seed, "file_789")
    assert file.ready and len(file.pages[0].boxes) == 3
    for entry in seed["result"]:
        del entry["request_file_id"]
    assert parse_retrieval(seed, "given").request_file_id == "given"


def test_parse_retrieval_rejects_garbage() -> None:
    with pytest.raises(PayloadRejected):
        parse_retrieval({"detail": "Not found"}, "f1")


# ----------------------------------------------------------------------------------------- garbage


def _with(path: list[str | int], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(_seed_response())
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "unknown_shape"),
        ([], "unknown_shape"),
        ("result", "unknown_shape"),
        (42, "unknown_shape"),
        ({}, "unknown_shape"),
        ({"message": "Success"}, "unknown_shape"),
        ({"result": "nope"}, "unknown_shape"),
        ({"result": {"page": 0}}, "unknown_shape"),
        ({"result": [1]}, "invalid_payload"),
        ({"result": [page("f", 0)], "signed_urls": "x"}, "invalid_payload"),
        ({"moderated_images": "x"}, "invalid_payload"),
        ({"moderated_images": [1]}, "invalid_payload"),
        ({"result": [page(None, 0, box("a", "x"))]}, "no_request_file_id"),
        ({"moderated_images": [retrieval_page(None, 0, box("a", "x"))]}, "no_request_file_id"),
    ],
)
def test_garbage_is_rejected_with_a_reason(body: Any, code: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_payload(body)
    assert caught.value.code == code
    assert caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (["result", 0, "page"], "first", "result.0.page"),
        (["result", 0, "prediction"], "x", "result.0.prediction"),
        (["result", 0, "prediction", 0, "score"], 1.5, "result.0.prediction.0.score"),
        (["result", 0, "prediction", 0, "score"], -0.1, "result.0.prediction.0.score"),
        (["result", 0, "prediction", 0, "score"], "high", "result.0.prediction.0.score"),
        (["result", 0, "prediction", 0, "type"], "checkbox", "result.0.prediction.0.type"),
        (["result", 0, "prediction", 2, "cells", 0, "score"], 2, "result.0.prediction.2.cells.0.score"),
        (["result", 0, "prediction", 2, "cells"], "x", "result.0.prediction.2.cells"),
        (["result", 0, "request_file_id"], 789, "result.0.request_file_id"),
    ],
)
def test_invalid_values_name_where(path: list[str | int], value: Any, where: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_payload(_with(path, value))
    assert caught.value.code == "invalid_payload"
    assert caught.value.message.startswith(where + ":")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
SMALL = (
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.floats(-0.5, 1.5)
    | st.sampled_from(["", "f1", "0.5", "{}"])
)
CELL = st.fixed_dictionaries(
    {},
    optional={
        "row": SMALL,
        "col": SMALL,
        "label": SMALL,
        "text": SMALL,
        "score": SMALL,
        "extra": st.integers(),
    },
)
BOX = st.fixed_dictionaries(
    {},
    optional={
        "label": st.sampled_from(["fecha", "total", ""]) | SMALL,
        "ocr_text": st.text(max_size=12) | SMALL,
        "score": SMALL,
        "type": st.sampled_from(["field", "table", "", None, "checkbox"]),
        "page_no": SMALL,
        "xmin": SMALL,
        "cells": st.lists(CELL, max_size=3) | SMALL,
        "extra": st.text(max_size=4),
    },
)
PAGE = st.fixed_dictionaries(
    {},
    optional={
        "request_file_id": st.sampled_from(["f1", "f2", "", None]) | SMALL,
        "page": SMALL,
        "prediction": st.lists(BOX, max_size=3) | SMALL,
        "predicted_boxes": st.lists(BOX, max_size=3) | SMALL,
        "request_metadata": st.sampled_from(['{"k": 1}', "raw", None, "[]"]) | SMALL,
        "status": st.sampled_from(["rejected", "ok"]) | SMALL,
        "is_moderated": SMALL,
    },
)
BODY = st.fixed_dictionaries(
    {},
    optional={
        "result": st.lists(PAGE, max_size=4) | SMALL,
        "moderated_images": st.lists(PAGE, max_size=3) | SMALL,
        "unmoderated_images": st.lists(PAGE, max_size=3) | SMALL,
        "request_file_id": st.sampled_from(["top", None]) | SMALL,
        "status": st.sampled_from(["rejected", "success"]) | SMALL,
        "is_rejected": SMALL,
    },
)


VALID_CELL = st.fixed_dictionaries(
    {"text": st.text(max_size=6)},
    optional={
        "row": st.integers(0, 3) | st.none(),
        "col": st.integers(0, 3),
        "label": st.sampled_from(["a", "b", ""]),
    },
)
VALID_BOX = st.fixed_dictionaries(
    {"label": st.sampled_from(["fecha", "total", "x", ""]), "ocr_text": st.text(max_size=12)},
    optional={
        "score": st.floats(0, 1) | st.none() | st.sampled_from(["0.5", "1"]),
        "type": st.sampled_from(["field", "table", "", None]),
        "page_no": st.integers(-1, 3) | st.none(),
        "cells": st.lists(VALID_CELL, max_size=3) | st.none(),
        "unknown": st.text(max_size=4) | st.integers(),
    },
)
VALID_PAGE = st.fixed_dictionaries(
    {"request_file_id": st.sampled_from(["f1", "f2", "f3"])},
    optional={
        "page": st.integers(-1, 4) | st.none() | st.sampled_from(["2"]),
        "prediction": st.lists(VALID_BOX, max_size=3),
        "predicted_boxes": st.lists(VALID_BOX, max_size=3),
        "request_metadata": st.sampled_from(['{"k": 1}', "raw", None, "", "[]"]),
        "unknown": st.lists(st.integers(), max_size=2),
    },
)
VALID_BODY = st.one_of(
    st.fixed_dictionaries(
        {"result": st.lists(VALID_PAGE, max_size=5)}, optional={"status": st.sampled_from(["rejected", "ok"])}
    ),
    st.fixed_dictionaries(
        {
            "moderated_images": st.lists(VALID_PAGE, max_size=3),
            "unmoderated_images": st.lists(VALID_PAGE, max_size=3),
        },
        optional={"moderated_images_count": st.integers(0, 3)},
    ),
)


@settings(max_examples=100, deadline=None)
@given(VALID_BODY)
def test_well_shaped_bodies_are_accepted_and_nothing_is_lost(body: dict[str, Any]) -> None:
    files = parse_payload(body)
    entries = [
        *body.get("result", []),
        *body.get("moderated_images", []),
        *body.get("unmoderated_images", []),
    ]
    key = "prediction" if "result" in body else "predicted_boxes"
    with_pages = {e["request_file_id"] for e in entries if "result" not in body or key in e}
    assert {f.request_file_id for f in files} == with_pages
    for file in files:
        assert file.ready
        assert [p.page for p in file.pages] == sorted({p.page for p in file.pages})
        assert all(p.page >= 0 for p in file.pages)


@settings(max_examples=150, deadline=None)
@given(st.one_of(JSON_VALUES, BODY, VALID_BODY))
def test_any_json_is_parsed_or_rejected_never_crashes(body: Any) -> None:
    try:
        files = parse_payload(body)
    except PayloadRejected as rejected:
        assert rejected.code in {"unknown_shape", "invalid_payload", "no_request_file_id"}
    else:
        assert all(isinstance(f, FilePrediction) for f in files)
        assert len({f.request_file_id for f in files}) == len(files)
        for f in files:
            assert [p.page for p in f.pages] == sorted({p.page for p in f.pages})


@settings(max_examples=100, deadline=None)
@given(st.one_of(BODY, VALID_BODY))
def test_shaped_bodies_never_crash_retrieval(body: dict[str, Any]) -> None:
    try:
        file = parse_retrieval(body, "wanted")
    except PayloadRejected:
        return
    assert file.request_file_id == "wanted"
    assert file.ready == bool(file.pages)
