"""Helpers only the tests use: waiting, listing keys, presigned sample documents, the receipt's boxes.

S3 event builders live in `devtools.events`, sample documents in `devtools.documents` (demo, bench and soak
use them too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from devtools.documents import RECEIPT_PAGES, document_bytes

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def presigned_document_url(s3: Any, key: str, bucket: str = "ingest-in") -> str:
    """Put `document_bytes()` at `key` and return a presigned GET URL the emulator can download."""
    s3.put_object(Bucket=bucket, Key=key, Body=document_bytes())
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    return url


def receipt_boxes() -> list[dict[str, Any]]:
    """RECEIPT_PAGES' only page as the emulator answers it (every box stamped with its page, 0)."""
    return [dict(box, page=0) for box in RECEIPT_PAGES[0]]
