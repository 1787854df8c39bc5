"""The space a page's box coordinates are measured in: what the console's overlay is scaled to. Pure.

Nanonets measures boxes in pixels of the page image it rendered, and says that image's `size` (2550 x 3300
for a Letter page at 300 dpi, NANONETS_LIVE.md), not in the document's own units (PDF points, 72 per inch).
The output keeps a page's size in `pages_info` when the body gave it for that page. A per-document export of
several pages gives one `size` for the whole file, which the output honestly gives to no page: nothing in
the body says which page it was measured on. The console only draws, so it may use it where it fits: on a
page of the same shape (width to height within ASPECT_TOLERANCE) the file-level size is that page's pixel
size too, since Nanonets renders the pages of one file alike. A page of another shape gets no borrowed
size, because a wrong scale misplaces every box; it falls back to the page's own units, as a document with
no size at all does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

Size = tuple[float, float]  # (width, height)

ASPECT_TOLERANCE = 0.02  # A4 595.3 x 841.9 pt vs 1240 x 1754 px differ by 0.02 %; A4 vs Letter by 9 %
MAX_NESTING = 4  # result[0].result[...] is the deepest shape Nanonets sends


def box_space(page_units: Size, reported: Size | None, file_sizes: Iterable[Size]) -> Size:
    """The size the boxes of a page are measured in: the page's own reported size; else the first
    file-level size of the same shape as the page (`file_sizes` is read only that far, so it may be
    lazy); else the page's own units (PDF points, image pixels)."""
    if reported is not None:
        return reported
    for size in file_sizes:
        if same_shape(size, page_units):
            return size
    return page_units


def same_shape(one: Size, other: Size) -> bool:
    if min(*one, *other) <= 0:
        return False
    return abs((one[0] / one[1]) / (other[0] / other[1]) - 1) <= ASPECT_TOLERANCE


def file_level_size(body: bytes, request_file_id: str) -> Size | None:
    """The `size` a webhook or fetched body gives for the file as a whole (an export object naming
    `request_file_id` and no page of its own); None when it gives none, or is not JSON."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    for entry in _entries(data, MAX_NESTING):
        if _names_file(entry, request_file_id) and entry.get("page") is None:
            size = _size(entry.get("size"))
            if size is not None:
                return size
    return None


def _entries(data: object, depth: int) -> Iterable[Mapping[str, Any]]:
    """Every object where Nanonets puts a page or an export: the body, its `result` (one object or a
    list, nested), and the items of a bare array. Boxes are never looked into."""
    if depth < 0:
        return
    if isinstance(data, list):
        for item in data:
            yield from _entries(item, depth - 1)
    elif isinstance(data, Mapping):
        yield data
        if isinstance(data.get("result"), Mapping | list):
            yield from _entries(data["result"], depth - 1)


def _names_file(entry: Mapping[str, Any], request_file_id: str) -> bool:
    named = entry.get("request_file_id") or entry.get("id")
    return named == request_file_id


def _size(value: object) -> Size | None:
    if not isinstance(value, Mapping):
        return None
    width, height = _dimension(value.get("width")), _dimension(value.get("height"))
    return (width, height) if width is not None and height is not None else None


def _dimension(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None
