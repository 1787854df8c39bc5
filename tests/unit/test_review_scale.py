"""service.review.scale: the space the console draws a page's boxes in, when Nanonets said it per file."""

from __future__ import annotations

import json
from typing import Any

from devtools.stack import REPO
from service.core.payloads import parse_payload_bytes
from service.review.scale import box_space, file_level_size

A4_POINTS = (595.28, 841.89)  # what the page renderer reports for an A4 PDF page
A4_150_DPI = (1240.0, 1754.0)  # the pixels Nanonets measured its boxes in
LETTER_300_DPI = (2550.0, 3300.0)


def export(file_id: str, size: Any, **extra: Any) -> bytes:
    """A per-document export of two pages: boxes of both in one list, one `size` for the file."""
    boxes = [
        {"label": "fecha", "ocr_text": "31/10/2026", "xmin": 332, "ymin": 138, "xmax": 474, "ymax": 167},
        {"label": "total", "ocr_text": "1.452,00", "xmin": 700, "ymin": 420, "xmax": 900, "ymax": 450},
    ]
    for page, found in enumerate(boxes):
        found["page"] = page
    return json.dumps({"result": {"id": file_id, "size": size, "predicted_boxes": boxes, **extra}}).encode()


def test_a_page_without_its_own_size_takes_the_file_level_size_of_its_shape() -> None:
    assert box_space(A4_POINTS, None, [A4_150_DPI]) == A4_150_DPI


def test_a_page_of_another_shape_keeps_its_own_units_rather_than_a_wrong_scale() -> None:
    assert box_space(A4_POINTS, None, [LETTER_300_DPI]) == A4_POINTS
    landscape = (A4_POINTS[1], A4_POINTS[0])
    assert box_space(landscape, None, [A4_150_DPI]) == landscape


def test_the_first_file_level_size_that_fits_wins_and_a_page_of_its_own_size_needs_none() -> None:
    assert box_space(A4_POINTS, None, [LETTER_300_DPI, A4_150_DPI, (2480.0, 3508.0)]) == A4_150_DPI
    assert box_space(A4_POINTS, None, []) == A4_POINTS

    def never_read() -> Any:
        raise AssertionError("the archive was read for a page that has its own size")
        yield  # pragma: no cover

    assert box_space(A4_POINTS, (2480.0, 3508.0), never_read()) == (2480.0, 3508.0)


def test_the_file_level_size_of_an_export_is_found_for_its_file_only() -> None:
    body = export("f-1", {"width": 1240, "height": 1754}, request_file_id="f-1")
    assert file_level_size(body, "f-1") == A4_150_DPI
    assert file_level_size(body, "f-2") is None
    # without request_file_id the export's `id` names the file (NANONETS_LIVE.md, shape 1)
    assert file_level_size(export("f-3", {"width": 2550, "height": 3300}), "f-3") == LETTER_300_DPI


def test_a_page_objects_size_is_not_a_file_level_size() -> None:
    nested = (REPO / "samples" / "webhooks" / "live-prediction-nested.json").read_bytes()
    file_id = json.loads(nested)["result"][0]["result"][0]["request_file_id"]
    assert file_level_size(nested, file_id) is None  # each page says its own: the output keeps those


def test_no_usable_size_is_none() -> None:
    for size in (None, {}, {"width": 0, "height": 10}, {"width": -1, "height": 10}, [1240, 1754]):
        assert file_level_size(export("f", size), "f") is None
    assert file_level_size(b"NaN", "f") is None
    assert file_level_size(b"not json", "f") is None
    assert file_level_size(b'{"result": {"id": "f", "size": {"width": NaN, "height": 1}}}', "f") is None


def test_the_size_is_read_as_the_webhook_reads_it() -> None:
    """One reading of a body: a numeric string is the number the output's `pages_info` would hold too."""
    body = export("f", {"width": "1240", "height": 1754})
    (prediction,) = parse_payload_bytes(body)
    assert file_level_size(body, "f") == prediction.file_size == A4_150_DPI
    page_object = {"request_file_id": "f", "page": 0, "size": {"width": "1240", "height": 1754}}
    one_page = json.dumps({"result": {**page_object, "predicted_boxes": []}})
    (page,) = parse_payload_bytes(one_page.encode()).pop().pages
    assert (page.width, page.height) == A4_150_DPI
