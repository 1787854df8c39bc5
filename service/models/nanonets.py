"""Nanonets payloads: the page and box objects every body shape is made of, plus the file-level view the
pipeline works on.

Lenient where Nanonets is: unknown keys are kept (`extra="allow"`), numbers that arrive as strings are
accepted, missing optional values default. A score never fails a document: Nanonets writes scores on
mixed scales (0-1 for fields, 0-100 such as `99.99` for table cells, `0` for "not scored"), so `score`
is brought onto one scale here (`score_to_confidence`). Strict where a wrong value would corrupt the
output: a prediction type other than field/table, a page index or request_file_id of the wrong kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from service.models.nanonets_lean import BoxView
from service.models.scores import score_to_confidence as score_to_confidence

ReviewState = Literal["pending", "approved", "rejected", "auto_approved"]


Score = Annotated[float | None, BeforeValidator(score_to_confidence)]


class NanonetsModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


class TableCell(NanonetsModel):
    """One cell of a table box. `row`/`col` are 1-based in live data, 0-based in some examples."""

    id: str | None = None
    row: int | None = None
    col: int | None = None
    row_span: int | None = None
    col_span: int | None = None
    label: str = ""
    row_label: str | None = None
    xmin: float | None = None
    ymin: float | None = None
    xmax: float | None = None
    ymax: float | None = None
    score: Score = None
    text: str = ""
    verification_status: str | None = None
    status: str | None = None
    failed_validation: str | None = None
    label_id: str | None = None

    _empty_text = field_validator("text", "label", mode="before")(_none_to_empty)


class Prediction(NanonetsModel):
    """One box: a field, or a table with `cells`. `page` is its page (0-based); `page_no` is the older
    name seen only in synthetic examples."""

    id: str | None = None
    label: str = ""
    xmin: float | None = None
    ymin: float | None = None
    xmax: float | None = None
    ymax: float | None = None
    score: Score = None
    ocr_text: str = ""
    type: Literal["field", "table"] = "field"
    status: str | None = None
    validation_status: str | None = None
    validation_message: str | None = None
    page: int | None = None
    page_no: int | None = None
    label_id: str | None = None
    cells: list[TableCell] = Field(default_factory=list)

    _empty_text = field_validator("ocr_text", "label", mode="before")(_none_to_empty)
    _cells_list = field_validator("cells", mode="before")(_none_to_list)

    @field_validator("type", mode="before")
    @classmethod
    def _default_type(cls, value: Any) -> Any:
        return "field" if value in (None, "") else value

    def cell_values(self) -> Iterator[tuple[str, int | None, int | None, str]]:
        """(label, col, row, text) of each cell."""
        for cell in self.cells:
            yield cell.label, cell.col, cell.row, cell.text

    def bbox(self) -> list[float] | None:
        corners = (self.xmin, self.ymin, self.xmax, self.ymax)
        if any(c is None for c in corners):
            return None
        return [float(c) for c in corners if c is not None]

    def page_index(self) -> int | None:
        """The page this box says it sits on, if it says (negative indexes say nothing)."""
        for index in (self.page, self.page_no):
            if index is not None and index >= 0:
                return index
        return None


class PageSize(NanonetsModel):
    """Pixels of the page image the box coordinates refer to (e.g. 2550 x 3300)."""

    width: float | None = None
    height: float | None = None


class PageEntry(NanonetsModel):
    """A page object, whatever list it came in, or the per-document export object.

    - a page of the prediction response (`result[]`, boxes in `prediction`);
    - a page object of retrieval answers and newer webhooks (`moderated_images[]`, `unmoderated_images[]`,
      a bare array): boxes in `predicted_boxes`, a person's reviewed boxes in `moderated_boxes` (null
      until someone reviewed the page), `size`, and the **page** id in `id`;
    - the per-document export (`result` is one object): no `page`, the boxes of every page in one list,
      each box with its own `page`, and the **file** id in `id` when `request_file_id` is missing.
    An older nesting (`result[0].result[...]`) leaves the inner list in the extras under `result`.
    """

    id: str | None = None
    request_file_id: str | None = None
    model_id: str | None = None
    message: str | None = None
    input: str | None = None
    original_file_name: str | None = None
    page: int | None = None
    size: PageSize | None = None
    url: str | None = None
    day_since_epoch: int | None = None
    request_metadata: str | dict[str, Any] | None = None
    processing_type: str | None = None
    is_moderated: bool | None = None
    approval_status: str | None = None
    prediction: list[Prediction] = Field(default_factory=list)
    predicted_boxes: list[Prediction] = Field(default_factory=list)
    moderated_boxes: list[Prediction] | None = None

    _boxes_lists = field_validator("prediction", "predicted_boxes", mode="before")(_none_to_list)


# The seeds name the same object after the list it came in.
PredictionPage = PageEntry
ModeratedPage = PageEntry


class PredictionResponse(NanonetsModel):
    message: str | None = None
    result: list[PageEntry] = Field(default_factory=list)
    signed_urls: dict[str, Any] | None = None


class AsyncAcceptedItem(NanonetsModel):
    message: str | None = None
    request_file_id: str | None = None
    filepath: str | None = None
    status: str | None = None


class AsyncAcceptedResponse(NanonetsModel):
    message: str | None = None
    result: list[AsyncAcceptedItem] = Field(default_factory=list)


class ModeratedFileResponse(NanonetsModel):
    moderated_images_count: int | None = None
    unmoderated_images_count: int | None = None
    moderated_images: list[PageEntry] = Field(default_factory=list)
    unmoderated_images: list[PageEntry] = Field(default_factory=list)
    signed_urls: dict[str, Any] | None = None


class BodyEnvelope(NanonetsModel):
    """The scalar keys around the page lists of any body; checked so a wrong type is named, not ignored."""

    message: str | None = None
    signed_urls: dict[str, Any] | None = None
    moderated_images_count: int | None = None
    unmoderated_images_count: int | None = None


def parse_request_metadata(raw: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Nanonets echoes `request_metadata` as the string we sent; we send JSON objects."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict):
        return raw
    try:
        decoded = json.loads(raw)
    except ValueError:
        return {"raw": raw}
    return decoded if isinstance(decoded, dict) else {"raw": raw}


# ---- the file-level view: what one webhook or retrieval tells us about one request_file_id ----

# A box as the full model reads it, or as the webhook path's lean view does (same attributes, same values).
AnyBox = BoxView | Prediction


class PagePrediction(BaseModel):
    """One page of a file (0-based index): the model's boxes, a person's reviewed boxes, the page size.

    `moderated_boxes` is None until a person reviewed the page in Nanonets; once set it is the truth for
    the page (a box it lacks was deleted by the reviewer) and `boxes` still holds the model's guess.
    `width`/`height` are the pixels the box coordinates refer to, None when the body did not say.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    page: int
    # Left to right, the lean view first: a smart union would also ask `isinstance(box, Prediction)`,
    # a Python-level ABC check, of every lean box.
    boxes: tuple[Annotated[AnyBox, Field(union_mode="left_to_right")], ...] = ()
    moderated_boxes: tuple[Annotated[AnyBox, Field(union_mode="left_to_right")], ...] | None = None
    width: float | None = None
    height: float | None = None

    @property
    def reviewed(self) -> bool:
        return self.moderated_boxes is not None

    @property
    def final_boxes(self) -> tuple[AnyBox, ...]:
        """The boxes whose values the output carries: the reviewed ones where a person reviewed."""
        return self.moderated_boxes if self.moderated_boxes is not None else self.boxes


class FilePrediction(BaseModel):
    """Everything a payload said about one file, pages sorted by index.

    `review` is what the payload implies: `rejected` when anything in it says rejected; `approved` when
    its approval status or trigger says approved, or every page is moderated (listed under
    `moderated_images` or `is_moderated`); else pending. `ready` is false when a retrieval answer has no
    page yet (the async prediction is still running). `model_id` is the model the body names, if any.
    """

    model_config = ConfigDict(frozen=True)

    request_file_id: str
    pages: tuple[PagePrediction, ...] = ()
    request_metadata: dict[str, Any] | None = None
    review: Literal["pending", "approved", "rejected"] = "pending"
    ready: bool = True
    model_id: str | None = None
    # The `size` a per-document export gives for the whole file (an entry with no page of its own), in
    # pixels of the images Nanonets rendered. The output gives it to no page of several (nothing says which
    # page it was measured on); the console draws the boxes of pages of its shape in it (review/scale.py).
    file_size: tuple[float, float] | None = None

    @property
    def reviewed(self) -> bool:
        """A person reviewed at least one page in Nanonets (its values may differ from the model's)."""
        return any(page.reviewed for page in self.pages)
