"""Nanonets calls by endpoint family and status, counted from outside the client by a `requests` response
hook on its session: every answer, including the 429s and 5xx that urllib3 retried before the last one
(they are in the final response's retry history)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import requests

from service.observability.metrics import Metrics

# Path segment after /OCR/Model/<model>/ or /Inferences/Model/<model>/ → the family it belongs to.
_FAMILIES = {
    "labelurls": "predict",
    "labelfile": "predict",
    "inferencerequest": "inference",
    "getfile": "inference",
    "imagelevelinferences": "inference",
    "getmodelimages": "inference",
    "approvefile": "approve",
    "deletefile": "delete",
    "updatefile": "update",
    "exportfile": "export",
    "uploadurls": "training_upload",
    "uploadfile": "training_upload",
    "train": "train",
}
_MODEL_PATH = re.compile(r"/(?:OCR|Inferences)/Model/[^/]+/([^/?]+)", re.IGNORECASE)


def endpoint_family(url: str) -> str:
    """A bounded label for an API URL: `predict`, `inference`, `approve` ... or `other`."""
    match = _MODEL_PATH.search(urlsplit(url).path)
    return _FAMILIES.get(match.group(1).lower(), "other") if match else "other"


def status_label(status: int | None) -> str:
    """402 and 429 matter on their own (credit gone, rate limit); the rest by class."""
    if status is None:
        return "connection_error"
    if status in (402, 429):
        return str(status)
    return f"{status // 100}xx"


def count_nanonets_calls(session: requests.Session, metrics: Metrics) -> None:
    """Attach the counting hook to the Nanonets client's session (`NanonetsClient._session`)."""

    def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        endpoint = endpoint_family(response.url or (response.request.url or ""))
        retries = getattr(response.raw, "retries", None)
        for attempt in getattr(retries, "history", ()) or ():
            metrics.nanonets_call(endpoint, status_label(attempt.status))
        metrics.nanonets_call(endpoint, status_label(response.status_code))

    session.hooks["response"].append(on_response)
