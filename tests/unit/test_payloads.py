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
# What the service sends as request_metadata: a JSON string naming the source, no file id in it.
OUR_METADATA = json.dumps(
    {"bucket": "in", "key": "incoming/a.pdf", "etag": "e", "version_id": None, "token": "t", "digest": "d"}
)


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


# ------------------------------------------------------------------------- live shapes (NANONETS_LIVE)


def export(**fields: Any) -> dict[str, Any]:
    """The per-document export: `result` is one object, boxes of every page in one list."""
    return {"result": {"model_id": "m-1", "input": "a.pdf", "request_metadata": OUR_METADATA, **fields}}


def _reviewed(file: FilePrediction) -> list[tuple[int, list[str] | None]]:
    return [
        (p.page, None if p.moderated_boxes is None else [b.ocr_text for b in p.moderated_boxes])
        for p in file.pages
    ]


def test_export_object_splits_its_boxes_by_their_own_page() -> None:
    body = export(
        request_file_id="f1",
        predicted_boxes=[box("total", "p1", page=1), box("fecha", "p0", page=0), box("iva", "p1b", page=1)],
    )
    [file] = parse_payload(body)
    assert _summary([file]) == [("f1", [(0, ["p0"]), (1, ["p1", "p1b"])])]
    assert file.model_id == "m-1" and file.request_metadata == json.loads(OUR_METADATA)
    assert file.review == "pending" and not file.reviewed


def test_a_box_s_own_page_wins_over_its_entry_s_but_the_legacy_page_no_does_not() -> None:
    body = export(
        request_file_id="f1", page=0, predicted_boxes=[box("a", "x", page=0), box("b", "y", page=1)]
    )
    assert _summary(parse_payload(body)) == [("f1", [(0, ["x"]), (1, ["y"])])]
    seeds = {"result": [page("f1", 1, box("a", "x", page_no=0))]}
    assert _summary(parse_payload(seeds)) == [("f1", [(1, ["x"])])]


def test_export_object_may_call_its_boxes_prediction() -> None:
    [file] = parse_payload(export(request_file_id="f1", prediction=[box("a", "x", page=0)]))
    assert _summary([file]) == [("f1", [(0, ["x"])])]


def test_export_object_covers_pages_without_boxes() -> None:
    [file] = parse_payload(export(request_file_id="f1", predicted_boxes=[box("a", "x", page=2)]))
    assert _summary([file]) == [("f1", [(0, []), (1, []), (2, ["x"])])]


def test_export_object_without_page_numbers_is_one_page() -> None:
    [file] = parse_payload(export(request_file_id="f1", predicted_boxes=[box("a", "x"), box("b", "y")]))
    assert _summary([file]) == [("f1", [(0, ["x", "y"])])]


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ({"request_file_id": "rf", "id": "doc"}, "rf"),
        ({"id": "doc"}, "doc"),  # integrations use the export's id as the file id
        ({"request_metadata": '{"request_file_id": "meta"}'}, "meta"),
        ({"id": "doc", "request_metadata": '{"request_file_id": "meta"}'}, "doc"),
    ],
)
def test_export_file_id_comes_from_request_file_id_then_id_then_metadata(
    ids: dict[str, Any], expected: str
) -> None:
    [file] = parse_payload(export(predicted_boxes=[box("a", "x", page=0)], **ids))
    assert file.request_file_id == expected


def test_export_naming_no_file_is_refused_with_a_reason() -> None:
    """Our own request_metadata names the source, not Nanonets' file id."""
    with pytest.raises(PayloadRejected) as caught:
        parse_payload(export(predicted_boxes=[box("a", "x", page=0)]))
    assert caught.value.code == "no_request_file_id" and "result" in caught.value.message


def test_parse_retrieval_names_an_export_without_id_by_the_file_asked_for() -> None:
    file = parse_retrieval(export(predicted_boxes=[box("a", "x", page=0)]), "asked")
    assert file.request_file_id == "asked" and file.ready


def test_export_object_with_corrections_and_approval() -> None:
    body = export(
        id="f1",
        approval_status="approved",
        predicted_boxes=[box("total", "45,30", page=0), box("fecha", "01/02/2026", page=1)],
        moderated_boxes=[box("total", "45,90", page=0)],
    )
    [file] = parse_payload(body)
    assert file.review == "approved" and file.reviewed
    assert _summary([file]) == [("f1", [(0, ["45,30"]), (1, ["01/02/2026"])])]
    # page 0 was reviewed (its moderated boxes are the truth); page 1 has none, so it keeps the model's
    assert _reviewed(file) == [(0, ["45,90"]), (1, None)]
    assert [b.ocr_text for p in file.pages for b in p.final_boxes] == ["45,90", "01/02/2026"]


def test_moderated_boxes_only_is_a_reviewed_file_without_the_model_guess() -> None:
    body = {"result": [{"id": "f1", "approval_status": "approved", "moderated_boxes": [box("a", "x")]}]}
    [file] = parse_payload(body)
    assert _reviewed(file) == [(0, ["x"])] and file.pages[0].boxes == ()


@pytest.mark.parametrize("moderated", [None, []])
def test_null_or_empty_moderated_boxes_mean_nobody_reviewed(moderated: Any) -> None:
    body = {"unmoderated_images": [retrieval_page("f", 0, box("a", "x"), moderated_boxes=moderated)]}
    [file] = parse_payload(body)
    assert _reviewed(file) == [(0, None)] and not file.reviewed


def test_nested_result_of_older_accounts() -> None:
    body = {
        "message": "Success",
        "result": [
            {"message": "Success", "result": [page("f1", 1, box("a", "y")), page("f1", 0, box("a", "x"))]},
            {"message": "Success", "result": [page("f2", 0, box("a", "z"))]},
        ],
    }
    assert _summary(parse_payload(body)) == [("f1", [(0, ["x"]), (1, ["y"])]), ("f2", [(0, ["z"])])]


def test_bare_array_of_page_objects() -> None:
    body = [
        retrieval_page("f1", 1, box("a", "y"), size={"width": 2550, "height": 3300}),
        retrieval_page("f1", 0, box("a", "x"), size={"width": 2550, "height": 3300}),
    ]
    [file] = parse_payload(body)
    assert _summary([file]) == [("f1", [(0, ["x"]), (1, ["y"])])]
    assert [(p.width, p.height) for p in file.pages] == [(2550, 3300), (2550, 3300)]


def test_a_bare_page_object() -> None:
    [file] = parse_payload(retrieval_page("f1", 0, box("a", "x")))
    assert _summary([file]) == [("f1", [(0, ["x"])])]


def test_any_mix_of_shapes_in_one_body() -> None:
    body = {
        "result": [page("f1", 0, box("a", "x"))],
        "unmoderated_images": [
            retrieval_page("f1", 1, box("a", "y")),
            retrieval_page("f2", 0, box("a", "z")),
        ],
    }
    assert _summary(parse_payload(body)) == [("f1", [(0, ["x"]), (1, ["y"])]), ("f2", [(0, ["z"])])]


def test_the_reviewed_copy_of_a_page_delivered_twice_is_kept() -> None:
    body = {
        "moderated_images": [retrieval_page("f", 0, box("a", "x"), moderated_boxes=[box("a", "X")])],
        "unmoderated_images": [retrieval_page("f", 0, box("a", "x"), box("b", "y"))],
    }
    [file] = parse_payload(body)
    assert _summary([file]) == [("f", [(0, ["x", "y"])])] and _reviewed(file) == [(0, ["X"])]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ({"width": 2550, "height": 3300}, (2550, 3300)),
        ({"width": "612", "height": 792.5}, (612, 792.5)),
        ({"width": 0, "height": 0}, (None, None)),
        ({"width": 100}, (100, None)),
        (None, (None, None)),
    ],
)
def test_page_size_is_kept(size: Any, expected: tuple[Any, Any]) -> None:
    [file] = parse_payload({"unmoderated_images": [retrieval_page("f", 0, size=size)]})
    assert (file.pages[0].width, file.pages[0].height) == expected


def test_a_size_given_once_for_a_document_of_several_pages_is_not_guessed() -> None:
    boxes = [box("a", "x", page=0), box("a", "y", page=1)]
    [file] = parse_payload(export(request_file_id="f", predicted_boxes=boxes, size={"width": 1, "height": 2}))
    assert [(p.width, p.height) for p in file.pages] == [(None, None), (None, None)]
    [single] = parse_payload(
        export(request_file_id="f", predicted_boxes=boxes[:1], size={"width": 1, "height": 2})
    )
    assert (single.pages[0].width, single.pages[0].height) == (1, 2)


def test_scores_on_any_scale_become_0_1_and_0_is_not_scored() -> None:
    table = {
        "label": "lineas",
        "type": "table",
        "score": 0,
        "cells": [
            {"row": 1, "col": 1, "text": "a", "score": 99.99},
            {"row": 1, "col": 2, "text": "b", "score": 0},
        ],
    }
    [file] = parse_payload(
        {"result": [page("f", 0, box("total", "1", score=0.93), table, box("x", "2", score=87))]}
    )
    total, lines, other = file.pages[0].boxes
    assert (total.score, lines.score, other.score) == (0.93, None, 0.87)
    assert [c.score for c in lines.cells] == [0.9999, None]


@pytest.mark.parametrize("score", [-3, 250, "high", float("nan")])
def test_an_absurd_score_does_not_reject_the_body(score: Any) -> None:
    [file] = parse_payload({"result": [page("f", 0, box("total", "1", score=score))]})
    assert file.pages[0].boxes[0].score is None


# ------------------------------------------------------------------------------------- review state


@pytest.mark.parametrize(
    ("where", "value", "review"),
    [
        ("entry", "approved", "approved"),
        ("entry", "Approved", "approved"),
        ("entry", "rejected", "rejected"),
        ("entry", "pending", "pending"),
        ("entry", "not_approved", "pending"),
        ("entry", "unapproved", "pending"),
        ("body", "approved", "approved"),
        ("body", "rejected", "rejected"),
    ],
)
def test_review_from_approval_status(where: str, value: str, review: str) -> None:
    body = export(request_file_id="f", predicted_boxes=[box("a", "x")])
    (body["result"] if where == "entry" else body)["approval_status"] = value
    assert parse_payload(body)[0].review == review


@pytest.mark.parametrize(
    ("key", "trigger", "review"),
    [
        ("status", "On Approval", "approved"),
        ("trigger", "on_approval", "approved"),
        ("event", "On Rejection", "rejected"),
        ("event_type", "On Inference", "pending"),
        ("trigger", "On All Validations Passing", "pending"),
        ("trigger", "On Assignment", "pending"),
    ],
)
def test_review_from_the_export_trigger(key: str, trigger: str, review: str) -> None:
    body = {key: trigger, "result": [page("f", 0, box("a", "x"))]}
    assert parse_payload(body)[0].review == review


def test_is_moderated_on_every_page_means_approved() -> None:
    both = [page("f", 0, is_moderated=True), page("f", 1, is_moderated=True)]
    assert parse_payload({"result": both})[0].review == "approved"
    one = [page("f", 0, is_moderated=True), page("f", 1, is_moderated=False)]
    assert parse_payload({"result": one})[0].review == "pending"


def test_a_rejection_anywhere_wins() -> None:
    body = {
        "moderated_images": [retrieval_page("f", 0, approval_status="approved")],
        "unmoderated_images": [retrieval_page("f", 1, approval_status="rejected")],
    }
    assert parse_payload(body)[0].review == "rejected"


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
        # the page id of a page object is not a file id
        ({"moderated_images": [retrieval_page(None, 0, box("a", "x"), id="page-id")]}, "no_request_file_id"),
        ({"result": [page(None, 0, box("a", "x"), id="page-id")]}, "no_request_file_id"),
        ({"result": {"predicted_boxes": [box("a", "x", page=0)]}}, "no_request_file_id"),
        ({"result": {"predicted_boxes": [], "request_metadata": OUR_METADATA}}, "no_request_file_id"),
        ({"predicted_boxes": [box("a", "x")]}, "no_request_file_id"),
        ([{"page": 0, "predicted_boxes": [box("a", "x")]}], "no_request_file_id"),
        ({"result": {"id": "f"}}, "unknown_shape"),
        ({"result": {"approval_status": "approved"}}, "unknown_shape"),
        ([1, "x"], "unknown_shape"),
        ([{"page": 0}], "unknown_shape"),
        ([[{"predicted_boxes": []}]], "unknown_shape"),
        ([{"request_file_id": "f", "predicted_boxes": []}, 1], "invalid_payload"),
        ({"result": {"request_file_id": "f", "predicted_boxes": "x"}}, "invalid_payload"),
        ({"result": [{"result": [page("f", "first")]}]}, "invalid_payload"),
        ({"result": [{"result": [1]}]}, "invalid_payload"),
        ({"unmoderated_images": {"a": 1}}, "invalid_payload"),
        ({"moderated_images_count": "many", "moderated_images": []}, "invalid_payload"),
        ({"message": ["x"], "result": []}, "invalid_payload"),
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
        (["result", 0, "prediction", 0, "type"], "checkbox", "result.0.prediction.0.type"),
        (["result", 0, "prediction", 0, "page"], "first", "result.0.prediction.0.page"),
        (["result", 0, "prediction", 2, "cells"], "x", "result.0.prediction.2.cells"),
        (["result", 0, "moderated_boxes"], "x", "result.0.moderated_boxes"),
        (["result", 0, "size"], [1, 2], "result.0.size"),
        (["result", 0, "approval_status"], ["approved"], "result.0.approval_status"),
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
SCORES = st.none() | st.floats(allow_nan=True) | st.integers(-5, 200) | st.sampled_from(["99.99", "0", "x"])
CELL = st.fixed_dictionaries(
    {},
    optional={
        "row": SMALL,
        "col": SMALL,
        "label": SMALL,
        "text": SMALL,
        "score": SMALL | SCORES,
        "extra": st.integers(),
    },
)
BOX = st.fixed_dictionaries(
    {},
    optional={
        "label": st.sampled_from(["fecha", "total", ""]) | SMALL,
        "ocr_text": st.text(max_size=12) | SMALL,
        "score": SMALL | SCORES,
        "type": st.sampled_from(["field", "table", "", None, "checkbox"]),
        "page": SMALL,
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
        "id": st.sampled_from(["f1", "p1"]) | SMALL,
        "page": SMALL,
        "prediction": st.lists(BOX, max_size=3) | SMALL,
        "predicted_boxes": st.lists(BOX, max_size=3) | SMALL,
        "moderated_boxes": st.lists(BOX, max_size=3) | SMALL,
        "request_metadata": st.sampled_from(['{"k": 1}', "raw", None, "[]", '{"request_file_id": "m"}'])
        | SMALL,
        "status": st.sampled_from(["rejected", "ok"]) | SMALL,
        "approval_status": st.sampled_from(["approved", "rejected", "pending"]) | SMALL,
        "is_moderated": SMALL,
        "size": st.fixed_dictionaries({}, optional={"width": SMALL, "height": SMALL}) | SMALL,
    },
)
BODY = st.fixed_dictionaries(
    {},
    optional={
        "result": st.lists(PAGE | st.fixed_dictionaries({"result": st.lists(PAGE, max_size=2)}), max_size=4)
        | PAGE
        | SMALL,
        "moderated_images": st.lists(PAGE, max_size=3) | SMALL,
        "unmoderated_images": st.lists(PAGE, max_size=3) | SMALL,
        "predicted_boxes": st.lists(BOX, max_size=2) | SMALL,
        "request_file_id": st.sampled_from(["top", None]) | SMALL,
        "status": st.sampled_from(["rejected", "success", "On Approval"]) | SMALL,
        "is_rejected": SMALL,
    },
)
BARE = st.lists(PAGE, max_size=3)


VALID_CELL = st.fixed_dictionaries(
    {"text": st.text(max_size=6)},
    optional={
        "row": st.integers(0, 3) | st.none(),
        "col": st.integers(0, 3),
        "label": st.sampled_from(["a", "b", ""]),
        "score": st.floats(0, 100) | st.none(),
    },
)
VALID_BOX = st.fixed_dictionaries(
    {"label": st.sampled_from(["fecha", "total", "x", ""]), "ocr_text": st.text(max_size=12)},
    optional={
        "score": st.floats(0, 100) | st.none() | st.sampled_from(["0.5", "1", "99.99", "0"]),
        "type": st.sampled_from(["field", "table", "", None]),
        "page": st.integers(-1, 3) | st.none(),
        "page_no": st.integers(-1, 3) | st.none(),
        "cells": st.lists(VALID_CELL, max_size=3) | st.none(),
        "unknown": st.text(max_size=4) | st.integers(),
    },
)
FILE_IDS = st.sampled_from(["f1", "f2", "f3"])
VALID_PAGE = st.fixed_dictionaries(
    {"request_file_id": FILE_IDS},
    optional={
        "page": st.integers(-1, 4) | st.none() | st.sampled_from(["2"]),
        "prediction": st.lists(VALID_BOX, max_size=3),
        "predicted_boxes": st.lists(VALID_BOX, max_size=3),
        "moderated_boxes": st.lists(VALID_BOX, max_size=3) | st.none(),
        "request_metadata": st.sampled_from(['{"k": 1}', "raw", None, "", "[]", OUR_METADATA]),
        "size": st.fixed_dictionaries({"width": st.integers(0, 3000), "height": st.floats(0, 3000)}),
        "is_moderated": st.booleans() | st.none(),
        "approval_status": st.sampled_from(["approved", "rejected", "pending", "in_review"]) | st.none(),
        "unknown": st.lists(st.integers(), max_size=2),
    },
)
# A page object always carries its boxes; only `result[]` entries may be "accepted" notices without.
LIVE_PAGE = VALID_PAGE.map(lambda page: {"predicted_boxes": [], **page})
EXPORT = st.fixed_dictionaries(
    {"predicted_boxes": st.lists(VALID_BOX, max_size=4)},
    optional={"moderated_boxes": st.lists(VALID_BOX, max_size=4) | st.none(), "model_id": st.just("m")},
).flatmap(
    lambda export: st.one_of(
        FILE_IDS.map(lambda f: {**export, "request_file_id": f}),
        FILE_IDS.map(lambda f: {**export, "id": f}),
        FILE_IDS.map(lambda f: {**export, "request_metadata": json.dumps({"request_file_id": f})}),
    )
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
    st.fixed_dictionaries({"result": EXPORT}, optional={"approval_status": st.sampled_from(["approved"])}),
    st.builds(
        lambda pages: {"result": [{"message": "Success", "result": pages}]}, st.lists(VALID_PAGE, max_size=3)
    ),
    st.lists(LIVE_PAGE, min_size=1, max_size=4),
    st.fixed_dictionaries(
        {"result": st.lists(VALID_PAGE, max_size=2), "unmoderated_images": st.lists(LIVE_PAGE, max_size=2)}
    ),
)


def _entries(body: Any) -> list[dict[str, Any]]:
    """The entries of a VALID_BODY that carry pages (by construction of the strategies above)."""
    if isinstance(body, list):
        return body
    result = body.get("result")
    if isinstance(result, dict):
        return [result]
    listed = [
        entry
        for item in result or []
        for entry in item.get("result", [item])
        if any(key in entry for key in ("prediction", "predicted_boxes", "moderated_boxes"))
    ]
    return [*listed, *body.get("moderated_images", []), *body.get("unmoderated_images", [])]


def _file_of(entry: dict[str, Any]) -> str:
    if "request_file_id" in entry:
        return str(entry["request_file_id"])
    return str(entry.get("id") or json.loads(entry["request_metadata"])["request_file_id"])


@settings(max_examples=150, deadline=None)
@given(VALID_BODY)
def test_well_shaped_bodies_are_accepted_and_nothing_is_lost(body: Any) -> None:
    files = parse_payload(body)
    entries = _entries(body)
    assert {f.request_file_id for f in files} == {_file_of(entry) for entry in entries}
    texts_in = {
        b["ocr_text"]
        for e in entries
        for key in ("prediction", "predicted_boxes", "moderated_boxes")
        for b in e.get(key) or []
    }
    for file in files:
        assert file.ready
        assert [p.page for p in file.pages] == sorted({p.page for p in file.pages})
        assert all(p.page >= 0 for p in file.pages)
        for page in file.pages:
            assert page.moderated_boxes is None or page.moderated_boxes  # empty means not reviewed
            assert page.width is None or page.width > 0
            for box in (*page.boxes, *(page.moderated_boxes or ())):
                assert box.ocr_text in texts_in  # nothing invented
                assert box.score is None or 0 < box.score <= 1
                assert all(c.score is None or 0 < c.score <= 1 for c in box.cells)


@settings(max_examples=200, deadline=None)
@given(st.one_of(JSON_VALUES, BODY, BARE, VALID_BODY))
def test_any_json_is_parsed_or_rejected_never_crashes(body: Any) -> None:
    try:
        files = parse_payload(body)
    except PayloadRejected as rejected:
        assert rejected.code in {"unknown_shape", "invalid_payload", "no_request_file_id"}
        assert rejected.message and "\n" not in rejected.message
    else:
        assert all(isinstance(f, FilePrediction) for f in files)
        assert len({f.request_file_id for f in files}) == len(files)
        for f in files:
            assert [p.page for p in f.pages] == sorted({p.page for p in f.pages})
            assert f.review in ("pending", "approved", "rejected")


@settings(max_examples=100, deadline=None)
@given(st.one_of(BODY, BARE, VALID_BODY))
def test_shaped_bodies_never_crash_retrieval(body: Any) -> None:
    try:
        file = parse_retrieval(body, "wanted")
    except PayloadRejected:
        return
    assert file.request_file_id == "wanted"
    assert file.ready == bool(file.pages)
