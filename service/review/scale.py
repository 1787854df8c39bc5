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

from collections.abc import Iterable

from service.core.payloads import parse_payload_bytes
from service.errors import PayloadRejected

Size = tuple[float, float]  # (width, height)

ASPECT_TOLERANCE = 0.02  # A4 595.3 x 841.9 pt vs 1240 x 1754 px differ by 0.02 %; A4 vs Letter by 9 %


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
    """The `size` a webhook or fetched body gives for the file as a whole (`FilePrediction.file_size`,
    read by the webhook's own parser); None when it gives none, or is no body the webhook reads."""
    try:
        files = parse_payload_bytes(body)
    except PayloadRejected:
        return None
    return next((f.file_size for f in files if f.request_file_id == request_file_id), None)
