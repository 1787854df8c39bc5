"""The Nanonets client's transport: the retry policies, and how an answer becomes JSON or a typed error.

Retries come from urllib3's `Retry`: exponential backoff with jitter on 429, 500, 502, 503, 504 and
connection errors, honouring `Retry-After` but never waiting longer than `NANONETS_BACKOFF_MAX_SECONDS` for
one step, at most `NANONETS_MAX_RETRIES` times. A POST is retried on those statuses and on refused
connections (the request was not processed) but not on a read timeout, where Nanonets may have accepted it:
retrying could submit the document twice.

The predict calls used for submission are the exception for 429: the limit is in pages per minute per model,
shared by every worker, and a live 429 carries no `Retry-After`, so waiting is the job of the shared pacer
above the client (at least 30 s, then exponential backoff). Their policy raises `NanonetsRateLimited` at once.
"""

from __future__ import annotations

import email.utils
import logging
import math
import mimetypes
import time
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, BinaryIO

import requests
from urllib3.util.retry import Retry

from service.errors import (
    NanonetsAuthError,
    NanonetsBadRequest,
    NanonetsError,
    NanonetsNotFound,
    NanonetsQuotaExceeded,
    NanonetsRateLimited,
    NanonetsUnavailable,
)
from service.settings import NanonetsSettings

log = logging.getLogger("service.adapters.nanonets")

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_MESSAGE = 300
Files = Sequence[Path | tuple[str, BinaryIO | bytes]]


def parse_retry_after(header: str | None) -> float | None:
    """Seconds to wait from a Retry-After value: a number (leniently, "0.5" too) or an HTTP-date; None for
    garbage or absence. Never negative."""
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, as every HTTP-date is
            when = when.replace(tzinfo=UTC)
        value = when.timestamp() - time.time()
    if math.isnan(value) or math.isinf(value):
        return None
    return max(value, 0.0)


class _CappedRetry(Retry):
    """`Retry` whose Retry-After wait is capped, so one answer cannot park a worker for an hour."""

    def get_retry_after(self, response: Any) -> float | None:
        value = parse_retry_after(response.headers.get("Retry-After"))
        return None if value is None else min(value, self.backoff_max)


class _SubmitRetry(_CappedRetry):
    """The predict calls' policy: everything `_CappedRetry` retries except 429, which the pacer owns."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return status_code != 429 and super().is_retry(method, status_code, has_retry_after)


def retry_policy(settings: NanonetsSettings, *, for_submission: bool = False) -> Retry:
    policy = _SubmitRetry if for_submission else _CappedRetry
    return policy(
        total=settings.nanonets_max_retries,
        connect=settings.nanonets_max_retries,
        read=0,  # a read timeout on a POST may mean "accepted": never resend blindly
        status=settings.nanonets_max_retries,
        other=0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # every verb: 429/5xx mean the request was not processed
        backoff_factor=settings.nanonets_backoff_factor,
        backoff_max=settings.nanonets_backoff_max_seconds,
        backoff_jitter=settings.nanonets_backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def multipart(files: Files) -> list[tuple[str, Any]]:
    parts: list[tuple[str, Any]] = []
    for item in files:
        if isinstance(item, Path):
            content_type = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
            parts.append(("file", (item.name, item.read_bytes(), content_type)))
        else:
            name, content = item
            parts.append(
                ("file", (name, content, mimetypes.guess_type(name)[0] or "application/octet-stream"))
            )
    return parts


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return " ".join(text.split())[:MAX_MESSAGE] or (response.reason or "error")
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:MAX_MESSAGE]
    return (response.reason or "error")[:MAX_MESSAGE]


def error_for(response: requests.Response, path: str) -> NanonetsError:
    status = response.status_code
    message = _message(response)
    log.warning("nanonets error", extra={"status": status, "endpoint": path})
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return NanonetsRateLimited(message, status=status, endpoint=path, retry_after=retry_after)
    kinds: dict[int, type[NanonetsError]] = {
        400: NanonetsBadRequest,
        401: NanonetsAuthError,
        403: NanonetsAuthError,
        402: NanonetsQuotaExceeded,
        404: NanonetsNotFound,
    }
    kind = kinds.get(status, NanonetsUnavailable if status >= 500 else NanonetsError)
    if kind is NanonetsAuthError:
        message = f"{message} (check NANONETS_API_KEY)"
    return kind(message, status=status, endpoint=path)


def json_body(response: requests.Response, path: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise NanonetsUnavailable(
            "Nanonets answered with something that is not JSON", endpoint=path
        ) from None
    if isinstance(body, list):
        return {"result": body}
    if not isinstance(body, dict):
        raise NanonetsUnavailable("Nanonets answered with JSON that is not an object", endpoint=path)
    return body
