"""Nanonets payloads: the schemas of the OpenAPI seed, plus the file-level view the pipeline works on.

Lenient where Nanonets is: unknown keys are kept (`extra="allow"`), numbers that arrive as strings are
accepted, missing optional values default. Strict where a wrong value would corrupt the output: a score
outside 0..1 or a prediction type other than field/table is rejected.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Score = Annotated[float, Field(ge=0.0, le=1.0)]
ReviewState = Literal["pending", "approved", "rejected", "auto_approved"]


class NanonetsModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


class TableCell(NanonetsModel):
    id: str | None = None
    row: int | None = None
    col: int | None = None
    label: str = ""
    xmin: float | None = None
    ymin: float | None = None
    xmax: float | None = None
    ymax: float | None = None
    score: Score | None = None
    text: str = ""
    verification_status: str | None = None
    status: str | None = None
    failed_validation: str | None = None
    label_id: str | None = None

    _empty_text = field_validator("text", "label", mode="before")(_none_to_empty)


class Prediction(NanonetsModel):
    id: str | None = None
    label: str = ""
    xmin: float | None = None
    ymin: float | None = None
    xmax: float | None = None
    ymax: float | None = None
    score: Score | None = None
    ocr_text: str = ""
    type: Literal["field", "table"] = "field"
    status: str | None = None
    validation_status: str | None = None
    validation_message: str | None = None
    page_no: int | None = None
    label_id: str | None = None
    cells: list[TableCell] = Field(default_factory=list)

    _empty_text = field_validator("ocr_text", "label", mode="before")(_none_to_empty)

    @field_validator("type", mode="before")
    @classmethod
    def _default_type(cls, value: Any) -> Any:
        return "field" if value in (None, "") else value

    @field_validator("cells", mode="before")
    @classmethod
    def _cells_list(cls, value: Any) -> Any:
        return [] if value is None else value

    def bbox(self) -> list[float] | None:
        corners = (self.xmin, self.ymin, self.xmax, self.ymax)
        if any(c is None for c in corners):
            return None
        return [float(c) for c in corners if c is not None]


class PageSize(NanonetsModel):
    width: float | None = None
    height: float | None = None


class PredictionPage(NanonetsModel):
    message: str | None = None
    input: str | None = None
    prediction: list[Prediction] = Field(default_factory=list)
    page: int | None = None
    request_file_id: str | None = None
    id: str | None = None
    request_metadata: str | dict[str, Any] | None = None
    processing_type: str | None = None
    size: PageSize | None = None

    @field_validator("prediction", mode="before")
    @classmethod
    def _prediction_list(cls, value: Any) -> Any:
        return [] if value is None else value


class PredictionResponse(NanonetsModel):
    message: str | None = None
    result: list[PredictionPage] = Field(default_factory=list)
    signed_urls: dict[str, Any] | None = None


class AsyncAcceptedItem(NanonetsModel):
    message: str | None = None
    request_file_id: str | None = None
    filepath: str | None = None
    status: str | None = None


class AsyncAcceptedResponse(NanonetsModel):
    message: str | None = None
    result: list[AsyncAcceptedItem] = Field(default_factory=list)


class ModeratedPage(NanonetsModel):
    model_id: str | None = None
    day_since_epoch: int | None = None
    is_moderated: bool | None = None
    id: str | None = None
    url: str | None = None
    predicted_boxes: list[Prediction] = Field(default_factory=list)
    # Not in the OpenAPI schema, but carried by real retrieval answers (kept as extras otherwise).
    request_file_id: str | None = None
    request_metadata: str | dict[str, Any] | None = None
    page: int | None = None

    @field_validator("predicted_boxes", mode="before")
    @classmethod
    def _boxes_list(cls, value: Any) -> Any:
        return [] if value is None else value


class ModeratedFileResponse(NanonetsModel):
    moderated_images_count: int | None = None
    unmoderated_images_count: int | None = None
    moderated_images: list[ModeratedPage] = Field(default_factory=list)
    unmoderated_images: list[ModeratedPage] = Field(default_factory=list)
    signed_urls: dict[str, Any] | None = None


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


class PagePrediction(BaseModel):
    """The boxes Nanonets predicted on one page of a file (0-based page index)."""

    model_config = ConfigDict(frozen=True)

    page: int
    boxes: tuple[Prediction, ...] = ()


class FilePrediction(BaseModel):
    """Everything a payload said about one file, pages sorted by index.

    `review` is what the payload implies: retrieval pages under `moderated_images` are approved; a
    payload marked rejected is rejected; anything else is pending. `ready` is false when a retrieval
    answer has no page yet (the async prediction is still running).
    """

    model_config = ConfigDict(frozen=True)

    request_file_id: str
    pages: tuple[PagePrediction, ...] = ()
    request_metadata: dict[str, Any] | None = None
    review: Literal["pending", "approved", "rejected"] = "pending"
    ready: bool = True
