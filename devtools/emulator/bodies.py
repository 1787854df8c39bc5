"""The JSON bodies the emulator answers and sends: prediction pages (`result[]`) and the retrieval shape
(`moderated_images[]` / `unmoderated_images[]`)."""

from __future__ import annotations

from typing import Any

from devtools.emulator.state import FileRecord


def page_id(record: FileRecord, index: int) -> str:
    return f"{record.request_file_id}-p{index}"


def file_id_of_page(page: str) -> str:
    return page.rsplit("-p", 1)[0]


def prediction_pages(record: FileRecord, name: str) -> list[dict[str, Any]]:
    return [
        {
            "message": "Success",
            "input": name,
            "prediction": page,
            "page": index,
            "request_file_id": record.request_file_id,
            "id": page_id(record, index),
            "request_metadata": record.request_metadata,
            "processing_type": "async",
            "size": {"width": 1240, "height": 1754},
        }
        for index, page in enumerate(record.pages or [])
    ]


def moderated_pages(record: FileRecord, only_page: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "model_id": record.model_id,
            "day_since_epoch": record.created_day,
            "is_moderated": record.approved,
            "id": page_id(record, index),
            "url": record.source
            if record.source.startswith("http")
            else f"https://emulator.local/{record.source}",
            "predicted_boxes": page,
            "request_file_id": record.request_file_id,
            "request_metadata": record.request_metadata,
            "page": index,
        }
        for index, page in enumerate(record.pages or [])
        if only_page is None or page_id(record, index) == only_page
    ]


def retrieval_body(
    records: list[FileRecord], *, moderated: bool | None = None, only_page: str | None = None
) -> dict[str, Any]:
    approved: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for record in records:
        is_moderated = record.approved if moderated is None else moderated
        (approved if is_moderated else other).extend(moderated_pages(record, only_page))
    return {
        "moderated_images_count": len(approved),
        "unmoderated_images_count": len(other),
        "moderated_images": approved,
        "unmoderated_images": other,
        "signed_urls": {},
    }
