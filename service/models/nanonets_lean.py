"""The lean view of a Nanonets body that the webhook path works on: validated once, from the bytes.

`service.models.nanonets` keeps the full, documented models (every key kept, `model_extra`). Those cost
a pydantic model, its extras and its fields-set per box and cell, and Python validators per value. This
module accepts exactly what they accept, field by field, and keeps only what the pipeline reads:
- a box (`Box`) and a table cell (`Cell`) are slotted dataclasses built inside pydantic-core, holding the
  values as Nanonets sent them; what `Prediction`/`TableCell` convert on the way in (null text → "",
  scores onto 0-1, a missing type → field) they convert on reading, so no Python runs per value while
  the body is validated;
- a page or export object (`LeanPage`) is a plain dict with the keys the body had, because the shape
  dispatch asks which keys are present (`service.core.payloads`);
- `LEAN_BODY` validates a whole body straight from its bytes (no `json.loads` tree first). It covers
  every shape, but asks more of a body than the per-entry validation does (every `result[]` entry is
  validated, even an "accepted" notice). A body it refuses is parsed the slow way, which then names the
  error exactly as before.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter
from pydantic.dataclasses import dataclass
from typing_extensions import TypedDict

from service.models.scores import score_to_confidence

_LEAN = ConfigDict(extra="ignore", populate_by_name=True)


@dataclass(slots=True, frozen=True, config=_LEAN)
class Cell:
    """One table cell (as `TableCell` reads it)."""

    id: str | None = None
    row: int | None = None
    col: int | None = None
    row_span: int | None = None
    col_span: int | None = None
    label_raw: str | None = Field(default=None, alias="label")
    row_label: str | None = None
    xmin: float | None = None
    ymin: float | None = None
    xmax: float | None = None
    ymax: float | None = None
    score_raw: Any = Field(default=None, alias="score")  # any value: a bad score never fails a body
    text_raw: str | None = Field(default=None, alias="text")
    verification_status: str | None = None
    status: str | None = None
    failed_validation: str | None = None
    label_id: str | None = None

    @property
    def label(self) -> str:
        return self.label_raw or ""

    @property
    def text(self) -> str:
        return self.text_raw or ""

    @property
    def score(self) -> float | None:
        return score_to_confidence(self.score_raw)


@dataclass(slots=True, frozen=True, config=_LEAN)
class Box:
    """One box, a field or a table (as `Prediction` reads it)."""

    id: str | None = None
    label_raw: str | None = Field(default=None, alias="label")
    xmin: float | None = None
    ymin: float | None = None
    xmax: float | None = None
    ymax: float | None = None
    score_raw: Any = Field(default=None, alias="score")
    ocr_text_raw: str | None = Field(default=None, alias="ocr_text")
    type_raw: Literal["field", "table", ""] | None = Field(default=None, alias="type")
    status: str | None = None
    validation_status: str | None = None
    validation_message: str | None = None
    page: int | None = None
    page_no: int | None = None
    label_id: str | None = None
    cells_raw: list[Cell] | None = Field(default=None, alias="cells")

    @property
    def label(self) -> str:
        return self.label_raw or ""

    @property
    def ocr_text(self) -> str:
        return self.ocr_text_raw or ""

    @property
    def type(self) -> Literal["field", "table"]:
        return self.type_raw or "field"

    @property
    def score(self) -> float | None:
        return score_to_confidence(self.score_raw)

    @property
    def cells(self) -> list[Cell]:
        return self.cells_raw or []

    def bbox(self) -> list[float] | None:
        corners = (self.xmin, self.ymin, self.xmax, self.ymax)
        if None in corners:
            return None
        return [float(c) for c in corners if c is not None]

    def page_index(self) -> int | None:
        """The page this box says it sits on, if it says (negative indexes say nothing)."""
        for index in (self.page, self.page_no):
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
    prediction: list[Box] | None
    predicted_boxes: list[Box] | None
    moderated_boxes: list[Box] | None
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
LEAN_BODY: TypeAdapter[LeanBody | list[LeanListed]] = TypeAdapter(LeanBody | list[LeanListed])
