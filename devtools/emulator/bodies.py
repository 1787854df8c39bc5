"""The JSON the emulator answers and sends, in every shape live Nanonets uses (NANONETS_LIVE.md): page
objects, the prediction list (flat or nested), the retrieval shape, the per-document export, a bare array."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from devtools.emulator.predictions import Pages
from devtools.emulator.state import FileRecord

PAGE_SIZE = {"width": 1240, "height": 1754}  # A4 at 150 dpi: the pixels a PDF page's boxes refer to
Body = dict[str, Any]


def page_size(record: FileRecord) -> dict[str, int]:
    """The pixels box coordinates refer to: an image's own (Nanonets measures an image as it is), a PDF
    page's (or anything else's) rendered as PAGE_SIZE."""
    if record.content.startswith(b"%PDF"):
        return dict(PAGE_SIZE)
    try:
        with Image.open(io.BytesIO(record.content)) as image:
            width, height = image.size
    except (OSError, Image.DecompressionBombError):  # not an image PIL knows (UnidentifiedImageError)
        return dict(PAGE_SIZE)
    return {"width": width, "height": height}


def page_id(record: FileRecord, index: int) -> str:
    return f"{record.request_file_id}-p{index}"


def file_id_of_page(page: str) -> str:
    return page.rsplit("-p", 1)[0]


def scaled_boxes(boxes: list[dict[str, Any]], scale: str) -> list[dict[str, Any]]:
    """Copies of `boxes` with scores as `scale` says: "live" puts table cells on 0-100 and the table itself
    at 0 ("not scored"), as live traffic and the API reference's own example do; "unit" leaves them 0-1."""
    out = copy.deepcopy(boxes)
    if scale != "live":
        return out
    for box in out:
        if box.get("type") != "table":
            continue
        box["score"] = 0
        for cell in box.get("cells") or []:
            if isinstance(cell.get("score"), int | float):
                cell["score"] = round(cell["score"] * 100, 2)
    return out


def _page_boxes(pages: Pages | None, index: int, scale: str) -> list[dict[str, Any]] | None:
    if pages is None or index >= len(pages):
        return None
    return scaled_boxes(pages[index], scale)


def _all_boxes(pages: Pages | None, scale: str) -> list[dict[str, Any]] | None:
    if pages is None:
        return None
    return [box for page in pages for box in scaled_boxes(page, scale)]


def _file_url(record: FileRecord) -> str:
    return record.source if record.source.startswith("http") else f"https://emulator.local/{record.source}"


def _file_fields(record: FileRecord) -> Body:
    """What every page object and the export carry about the file."""
    updated = datetime.fromtimestamp(record.updated_at, UTC)
    return {
        "model_id": record.model_id,
        "request_file_id": record.request_file_id,
        "request_metadata": record.request_metadata,
        "original_file_name": record.name,
        "file_url": _file_url(record),
        "day_since_epoch": record.created_day,
        "hour_of_day": updated.hour,
        "is_moderated": record.approved,
        "approval_status": record.approval_status,
        "current_stage_id": "approved" if record.approved else "review",
        "export_status": "pending",
        "assigned_members": [],
        "updated_at": updated.isoformat().replace("+00:00", "Z"),
    }


def page_object(record: FileRecord, index: int, scale: str) -> Body:
    """One page as retrieval answers and page-level webhooks carry it."""
    return {
        **_file_fields(record),
        "id": page_id(record, index),
        "page": index,
        "url": f"https://emulator.local/pages/{page_id(record, index)}.jpeg",
        "size": page_size(record),
        "predicted_boxes": _page_boxes(record.pages, index, scale) or [],
        "moderated_boxes": _page_boxes(record.moderated, index, scale),
    }


def page_objects(record: FileRecord, scale: str, only_page: str | None = None) -> list[Body]:
    return [
        page_object(record, index, scale)
        for index in range(len(record.pages or []))
        if only_page is None or page_id(record, index) == only_page
    ]


def prediction_entry(record: FileRecord, index: int, scale: str) -> Body:
    """One page as the seeds' prediction response lists it (`result[]`)."""
    return {
        "message": "Success",
        "input": record.name,
        "prediction": _page_boxes(record.pages, index, scale) or [],
        "page": index,
        "request_file_id": record.request_file_id,
        "id": page_id(record, index),
        "request_metadata": record.request_metadata,
        "processing_type": "async",
        "size": page_size(record),
    }


def prediction_entries(record: FileRecord, scale: str) -> list[Body]:
    return [prediction_entry(record, index, scale) for index in range(len(record.pages or []))]


def prediction_body(record: FileRecord, scale: str) -> Body:
    return {"message": "Success", "result": prediction_entries(record, scale), "signed_urls": {}}


def nested_prediction_body(record: FileRecord, scale: str) -> Body:
    """Older accounts: one more level, `result[0].result[...]` (the API reference's async example)."""
    inner = {
        "message": "Success",
        "input": record.name,
        "request_file_id": record.request_file_id,
        "result": prediction_entries(record, scale),
    }
    return {"message": "Success", "result": [inner], "signed_urls": {}}


def retrieval_body(records: list[FileRecord], scale: str, *, only_page: str | None = None) -> Body:
    approved: list[Body] = []
    other: list[Body] = []
    for record in records:
        (approved if record.approved else other).extend(page_objects(record, scale, only_page))
    body: Body = {
        "moderated_images_count": len(approved),
        "unmoderated_images_count": len(other),
        "moderated_images": approved,
        "unmoderated_images": other,
        "signed_urls": {},
    }
    if len(records) == 1 and records[0].rejected:
        body["status"] = "rejected"
    return body


def export_body(record: FileRecord, scale: str) -> Body:
    """The per-document export: `result` is one object; boxes of every page in one list, each with `page`."""
    return {
        "result": {
            **_file_fields(record),
            "id": record.request_file_id,
            "input": record.name,
            "url": _file_url(record),
            "size": page_size(record),
            "page_count": len(record.pages or []),
            "predicted_boxes": _all_boxes(record.pages, scale) or [],
            "moderated_boxes": _all_boxes(record.moderated, scale),
        }
    }


def webhook_body(record: FileRecord, shape: str, scale: str) -> Body | list[Body]:
    if shape == "export":
        return export_body(record, scale)
    if shape == "prediction":
        return prediction_body(record, scale)
    if shape == "prediction_nested":
        return nested_prediction_body(record, scale)
    if shape == "retrieval":
        return retrieval_body([record], scale)
    return page_objects(record, scale)  # bare_array
