"""What a request to the emulator's API carries: URLs and metadata (form or JSON), the async flag, today."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from flask import request


def urls_and_metadata() -> tuple[list[str], str | None]:
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        urls = body.get("urls")
        metadata = body.get("request_metadata")
        return ([str(u) for u in urls] if isinstance(urls, list) else []), (
            metadata if isinstance(metadata, str) else None
        )
    return request.form.getlist("urls"), request.form.get("request_metadata")


def is_async() -> bool:
    return request.path.endswith("/Async/") or request.args.get("async", "").lower() == "true"


def name_of(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "document"


def today() -> int:
    """Days since the epoch, Nanonets' `day_since_epoch`."""
    return int(time.time() // 86400)
