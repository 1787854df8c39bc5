"""Webhook and retrieval bodies → the file-level view (`FilePrediction`). Pure.

Two shapes are understood, both from the seeds:
- the prediction response: `result[]` of pages, each with `request_file_id`, `page` and `prediction[]`;
- the retrieval response: `moderated_images[]` / `unmoderated_images[]` of pages with `predicted_boxes[]`.
One body may hold pages of several files, in any order, a page even twice: they are grouped by file and
sorted by page. Anything else is rejected with a typed `PayloadRejected`, never an unhandled exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from service.errors import PayloadRejected
from service.models.nanonets import (
    FilePrediction,
    ModeratedFileResponse,
    PagePrediction,
    Prediction,
    PredictionResponse,
    parse_request_metadata,
)

ReviewHint = Literal["pending", "approved", "rejected"]
RETRIEVAL_KEYS = ("moderated_images", "unmoderated_images")


@dataclass
class _RawPage:
    file_id: str | None
    index: int | None
    boxes: list[Prediction]
    metadata: str | dict[str, Any] | None
    moderated: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


def parse_payload(data: object) -> list[FilePrediction]:
    """Every file a webhook body speaks of. Raises PayloadRejected for an unknown or invalid shape."""
    return _parse(data, default_file_id=None)


def parse_retrieval(data: object, request_file_id: str) -> FilePrediction:
    """The answer of "get prediction by file id": `ready=False` while it has no page yet."""
    for prediction in _parse(data, default_file_id=request_file_id):
        if prediction.request_file_id == request_file_id:
            return prediction
    return FilePrediction(request_file_id=request_file_id, ready=False)


def _parse(data: object, *, default_file_id: str | None) -> list[FilePrediction]:
    if not isinstance(data, dict):
        raise PayloadRejected("unknown_shape", f"expected a JSON object, got {_kind(data)}")
    if isinstance(data.get("result"), list):
        pages = _prediction_pages(data)
    elif any(key in data for key in RETRIEVAL_KEYS):
        pages = _retrieval_pages(data)
    else:
        raise PayloadRejected(
            "unknown_shape",
            "not a Nanonets prediction (result[]) or retrieval (moderated_images[]) body",
        )
    top_file_id = data.get("request_file_id") if isinstance(data.get("request_file_id"), str) else None
    return _group(pages, top_file_id or default_file_id, _review_hint(data))


def _validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise PayloadRejected("invalid_payload", f"{where}: {first['msg']}") from None
    except RecursionError:
        raise PayloadRejected("invalid_payload", "the body is nested too deeply") from None


def _prediction_pages(data: dict[str, Any]) -> list[_RawPage]:
    response: PredictionResponse = _validate(PredictionResponse, data)
    raw_entries = data["result"]
    pages = []
    for entry, page in zip(raw_entries, response.result, strict=True):
        if isinstance(entry, dict) and "prediction" not in entry:
            continue  # an "accepted" entry of an async submission: no prediction yet
        pages.append(_RawPage(page.request_file_id, page.page, list(page.prediction), page.request_metadata))
    return pages


def _retrieval_pages(data: dict[str, Any]) -> list[_RawPage]:
    response: ModeratedFileResponse = _validate(ModeratedFileResponse, data)
    pages = []
    for moderated, group in ((True, response.moderated_images), (False, response.unmoderated_images)):
        for page in group:
            raw = _RawPage(page.request_file_id, page.page, list(page.predicted_boxes), page.request_metadata)
            raw.moderated = moderated or bool(page.is_moderated and moderated)
            raw.extras = dict(page.model_extra or {})
            pages.append(raw)
    return pages


def _review_hint(data: dict[str, Any]) -> ReviewHint | None:
    status = data.get("status")
    if (isinstance(status, str) and status.lower() == "rejected") or data.get("is_rejected") is True:
        return "rejected"
    return None


def _group(
    pages: Sequence[_RawPage], fallback_file_id: str | None, hint: ReviewHint | None
) -> list[FilePrediction]:
    by_file: dict[str, list[_RawPage]] = {}
    for page in pages:
        file_id = page.file_id or fallback_file_id
        if not file_id:
            raise PayloadRejected("no_request_file_id", "a page carries no request_file_id")
        by_file.setdefault(file_id, []).append(page)
    return [_file_prediction(file_id, file_pages, hint) for file_id, file_pages in by_file.items()]


def _file_prediction(file_id: str, pages: list[_RawPage], hint: ReviewHint | None) -> FilePrediction:
    merged: dict[int, tuple[Prediction, ...]] = {}
    for position, page in enumerate(pages):
        index = _page_index(page, position)
        boxes = tuple(page.boxes)
        if index not in merged or len(boxes) > len(merged[index]):
            merged[index] = boxes  # the same page delivered twice: keep the fuller copy, not both
    metadata = next((p.metadata for p in pages if p.metadata not in (None, "")), None)
    return FilePrediction(
        request_file_id=file_id,
        pages=tuple(PagePrediction(page=index, boxes=merged[index]) for index in sorted(merged)),
        request_metadata=parse_request_metadata(metadata),
        review=hint or _page_review(pages),
        ready=bool(merged),
    )


def _page_review(pages: Iterable[_RawPage]) -> ReviewHint:
    pages = list(pages)
    if any(str(p.extras.get("status", "")).lower() == "rejected" for p in pages):
        return "rejected"
    return "approved" if pages and all(p.moderated for p in pages) else "pending"


def _page_index(page: _RawPage, position: int) -> int:
    if page.index is not None and page.index >= 0:
        return page.index
    numbers = [box.page_no for box in page.boxes if box.page_no is not None and box.page_no >= 0]
    return min(numbers) if numbers else position


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
