"""Nanonets calls by endpoint family and status, counted from outside the client by a `requests` response
hook (`NanonetsClient.add_response_hook`): every answer, including the 429s and 5xx that urllib3 retried
before the last one (they are in the final response's retry history)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from service.observability.metrics import MetricsRecorder

# What follows /<OCR|Inferences|ObjectDetection>/Model/<model>/ in the paths of the three API generations
# (service/adapters/nanonets.py) → a bounded label. First match wins: Verify sits under ImageLevelInferences.
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), family)
    for pattern, family in (
        (r"^label(urls|file)\b", "predict"),
        (r"^imagelevelinferences/(un)?verify\b|^approvefile\b", "approve"),
        (r"^(inferencerequest(files)?|getfile|imagelevelinferences|getmodelimages)\b", "inference"),
        (r"^retryprediction\b", "retry"),
        (r"^deletefile\b", "delete"),
        (r"^updatefile\b", "update"),
        (r"^exportfile\b", "export"),
        (r"^upload(urls|file)\b", "training_upload"),
        (r"^train\b", "train"),
    )
)
_MODEL_PATH = re.compile(r"/(?:OCR|Inferences|ObjectDetection)/Model/[^/]+/(.*)$", re.IGNORECASE)

ResponseHook = Callable[..., None]


def endpoint_family(url: str) -> str:
    """A bounded label for an API URL: `predict`, `inference`, `approve` ... or `other`."""
    match = _MODEL_PATH.search(urlsplit(url).path)
    if match is None:
        return "other"
    rest = match.group(1)
    return next((family for pattern, family in _FAMILIES if pattern.search(rest)), "other")


def status_label(status: int | None) -> str:
    """402 and 429 matter on their own (credit gone, rate limit); the rest by class."""
    if status is None:
        return "connection_error"
    if status in (402, 429):
        return str(status)
    return f"{status // 100}xx"


def call_counter(metrics: MetricsRecorder) -> ResponseHook:
    """The response hook that counts each answer (and each retried attempt before it)."""

    def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        endpoint = endpoint_family(response.url or (response.request.url or ""))
        retries = getattr(response.raw, "retries", None)
        for attempt in getattr(retries, "history", ()) or ():
            metrics.nanonets_call(endpoint, status_label(attempt.status))
        metrics.nanonets_call(endpoint, status_label(response.status_code))

    return on_response
