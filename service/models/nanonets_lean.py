"""The lean view of a Nanonets body that the webhook path works on: validated once, from the bytes.

`service.models.nanonets` keeps the full, documented models (every key kept, `model_extra`). Those cost
a pydantic model, its extras and its fields-set per box and cell, and Python validators per value. This
module accepts exactly what they accept, field by field, and keeps only what the pipeline reads:
- boxes and cells are plain dicts of the keys sent (`LeanBox`, `LeanCell`: a dict of plain values is
  not even tracked by the garbage collector); no Python runs per value while the body is validated.
  `BoxView`/`CellView` read them as `Prediction`/`TableCell` do (null text → "", scores onto 0-1, a
  missing type → field), on reading;
- a page or export object (`LeanPage`) is a plain dict with the keys the body had, because the shape
  dispatch asks which keys are present (`service.core.payloads`);
- `LEAN_BODY` validates a whole decoded body (`LEAN_LISTED` one entry of its `result` list at a time).
  It covers every shape, but asks more of a body than the per-entry validation does (every `result[]`
  entry is validated, even an "accepted" notice). A body it refuses is parsed the slow way, which then
  names the error exactly as before.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from service.models.scores import score_to_confidence


class LeanCell(TypedDict, total=False):
    """One table cell: the fields of `TableCell`, as sent."""

    id: str | None
    row: int | None
    col: int | None
    row_span: int | None
    col_span: int | None
    label: str | None
    row_label: str | None
    xmin: float | None
    ymin: float | None
    xmax: float | None
    ymax: float | None
    score: Any  # any value: a bad score never fails a body (`score_to_confidence` reads it)
    text: str | None
    verification_status: str | None
    status: str | None
    failed_validation: str | None
    label_id: str | None


class LeanBox(TypedDict, total=False):
    """One box, a field or a table: the fields of `Prediction`, as sent."""

    id: str | None
    label: str | None
    xmin: float | None
    ymin: float | None
    xmax: float | None
    ymax: float | None
    score: Any
    ocr_text: str | None
    type: Literal["field", "table", ""] | None
    status: str | None
    validation_status: str | None
    validation_message: str | None
    page: int | None
    page_no: int | None
    label_id: str | None
    cells: list[LeanCell] | None


class CellView:
    """A validated cell read as `TableCell` reads it."""

    __slots__ = ("raw",)

    def __init__(self, raw: LeanCell) -> None:
        self.raw = raw

    @property
    def label(self) -> str:
        return self.raw.get("label") or ""

    @property
    def text(self) -> str:
        return self.raw.get("text") or ""

    @property
    def row(self) -> int | None:
        return self.raw.get("row")

    @property
    def col(self) -> int | None:
        return self.raw.get("col")

    @property
    def score(self) -> float | None:
        return score_to_confidence(self.raw.get("score"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellView) and other.raw == self.raw

    def __repr__(self) -> str:
        return f"CellView({self.raw!r})"


class BoxView:
    """A validated box read as `Prediction` reads it: null text is "", a missing type is a field, the
    score is on the 0-1 scale. One per box, made when its page is assembled; its cells are read on use."""

    __slots__ = ("raw",)

    def __init__(self, raw: LeanBox) -> None:
        self.raw = raw

    @property
    def label(self) -> str:
        return self.raw.get("label") or ""

    @property
    def ocr_text(self) -> str:
        return self.raw.get("ocr_text") or ""

    @property
    def type(self) -> Literal["field", "table"]:
        return self.raw.get("type") or "field"

    @property
    def score(self) -> float | None:
        return score_to_confidence(self.raw.get("score"))

    @property
    def page(self) -> int | None:
        return self.raw.get("page")

    def reading(self) -> tuple[str, Literal["field", "table"], float | None, str]:
        """(label, type, score, ocr_text) as the properties read them, in one call (run for every box)."""
        raw = self.raw
        return (
            raw.get("label") or "",
            raw.get("type") or "field",
            score_to_confidence(raw.get("score")),
            raw.get("ocr_text") or "",
        )

    @property
    def page_no(self) -> int | None:
        return self.raw.get("page_no")

    @property
    def cells(self) -> list[CellView]:
        return [CellView(cell) for cell in self.raw.get("cells") or ()]

    def cell_values(self) -> list[tuple[str, int | None, int | None, str]]:
        """(label, col, row, text) of each cell, as `cells` reads them, without a view per cell."""
        return [
            (cell.get("label") or "", cell.get("col"), cell.get("row"), cell.get("text") or "")
            for cell in self.raw.get("cells") or ()
        ]

    def bbox(self) -> list[float] | None:
        raw = self.raw
        xmin, ymin, xmax, ymax = raw.get("xmin"), raw.get("ymin"), raw.get("xmax"), raw.get("ymax")
        if xmin is None or ymin is None or xmax is None or ymax is None:
            return None
        return [xmin, ymin, xmax, ymax]  # floats already: validated as such

    def page_index(self) -> int | None:
        """The page this box says it sits on, if it says (negative indexes say nothing)."""
        return page_named_by(self.raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BoxView) and other.raw == self.raw

    def __repr__(self) -> str:
        return f"BoxView({self.raw!r})"


def page_named_by(box: LeanBox) -> int | None:
    """The page a box says it sits on, if it says: `page`, else `page_no` (negative indexes say nothing)."""
    for index in (box.get("page"), box.get("page_no")):
        if index is not None and index >= 0:
            return index
    return None


class LeanSize(TypedDict, total=False):
    width: float | None
    height: float | None


class LeanPage(TypedDict, total=False):
    """A page or export object: the fields of `PageEntry`, plus the extras the review state reads."""

    id: str | None
    request_file_id: str | None
    model_id: str | None
    message: str | None
    input: str | None
    original_file_name: str | None
    page: int | None
    size: LeanSize | None
    url: str | None
    day_since_epoch: int | None
    request_metadata: str | dict[str, Any] | None
    processing_type: str | None
    is_moderated: bool | None
    approval_status: str | None
    prediction: list[LeanBox] | None
    predicted_boxes: list[LeanBox] | None
    moderated_boxes: list[LeanBox] | None
    status: Any
    is_rejected: Any


class LeanListed(LeanPage, total=False):
    """An entry of a `result` list, or the export object: may nest a `result` list (older accounts)."""

    result: list[LeanListed]


class LeanBody(LeanListed, total=False):
    """A whole body: any shape (docs/OUTPUT.md "Input shapes"), envelope and trigger keys included."""

    result: list[LeanListed] | LeanListed  # type: ignore[misc]  # a list, or the export object
    moderated_images: list[LeanPage]
    unmoderated_images: list[LeanPage]
    signed_urls: dict[str, Any] | None
    moderated_images_count: int | None
    unmoderated_images_count: int | None
    trigger: Any
    event: Any
    event_type: Any
    action: Any


LEAN_PAGE: TypeAdapter[LeanPage] = TypeAdapter(LeanPage)
# One entry of a `result` list (or of a bare array), as LEAN_BODY validates each.
LEAN_LISTED: TypeAdapter[LeanListed] = TypeAdapter(LeanListed)
# Left to right: a smart union would try each member strictly, then again laxly.
LEAN_BODY: TypeAdapter[LeanBody | list[LeanListed]] = TypeAdapter(
    Annotated[LeanBody | list[LeanListed], Field(union_mode="left_to_right")]
)
