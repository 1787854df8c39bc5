"""The whole Nanonets API over one `requests.Session`: Basic auth, timeouts, retries, typed errors.

Retries come from urllib3's `Retry` (configured once, in `_retry_policy`): exponential backoff with jitter on
429, 500, 502, 503, 504 and connection errors, honouring `Retry-After` but never waiting longer than
`NANONETS_BACKOFF_MAX_SECONDS` for one step, at most `NANONETS_MAX_RETRIES` times. A POST is retried on
those statuses and on refused connections (the request was not processed) but not on a read timeout, where
Nanonets may have accepted it: retrying could submit the document twice.

The key is the Basic-auth user; it never appears in a log line, an error or a repr.
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
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

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_MESSAGE = 300


class _CappedRetry(Retry):
    """`Retry` whose Retry-After wait is capped, so one answer cannot park a worker for an hour."""

    def get_retry_after(self, response: Any) -> float | None:
        header = response.headers.get("Retry-After")
        if header is None:
            return None
        try:
            # Lenient where the RFC is strict: "0.5" is a wait, not a reason to crash (urllib3 raises).
            value = float(header)
        except ValueError:
            try:
                value = self.parse_retry_after(header)  # an HTTP-date
            except InvalidHeader:
                return None  # garbage: fall back to our own backoff
        if math.isnan(value):
            return None
        return min(max(value, 0.0), self.backoff_max)


def _retry_policy(settings: NanonetsSettings) -> Retry:
    return _CappedRetry(
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


class NanonetsClient:
    def __init__(self, settings: NanonetsSettings, session: requests.Session | None = None) -> None:
        self._model_id = settings.nanonets_model_id
        self._base_url = settings.nanonets_base_url
        self._timeout = (settings.nanonets_connect_timeout, settings.nanonets_read_timeout)
        self._session = session or requests.Session()
        self._session.auth = (settings.nanonets_api_key.get_secret_value(), "")
        adapter = HTTPAdapter(max_retries=_retry_policy(settings), pool_maxsize=32)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    @classmethod
    def from_settings(cls, settings: NanonetsSettings) -> NanonetsClient:
        return cls(settings)

    def __repr__(self) -> str:
        return f"NanonetsClient(base_url={self._base_url!r}, model_id={self._model_id!r})"

    # ---- transport ----

    def _path(self, template: str, **parts: str) -> str:
        return template.format(model=self._model_id, **{k: quote(v, safe="") for k, v in parts.items()})

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._session.request(method, self._base_url + path, timeout=self._timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise NanonetsUnavailable(
                f"cannot reach Nanonets: {type(error).__name__}", endpoint=path
            ) from None
        except requests.RequestException as error:
            # Anything else requests/urllib3 raise (a malformed header, a bad redirect) is still "Nanonets
            # misbehaved", never a traceback; the text names the type only, as a URL could carry the key.
            raise NanonetsUnavailable(
                f"unusable answer from Nanonets: {type(error).__name__}", endpoint=path
            ) from None
        if response.status_code >= 400:
            raise _error_for(response, path)
        return _json_body(response, path)

    # ---- predict ----

    def predict_urls(
        self,
        urls: Sequence[str],
        *,
        asynchronous: bool = False,
        request_metadata: str | None = None,
        async_style: str = "query",
    ) -> dict[str, Any]:
        """LabelUrls, form-encoded as the OpenAPI seed says. `async_style`: "query" (`?async=true`, the guide)
        or "path" (`/LabelUrls/Async/`, the OpenAPI seed)."""
        form: dict[str, Any] = {"urls": list(urls)}
        if request_metadata is not None:
            form["request_metadata"] = request_metadata
        path, params = self._predict_target("LabelUrls", asynchronous, async_style)
        if asynchronous and async_style == "path":
            form["async"] = "true"
        return self._request("POST", path, params=params, data=form)

    def predict_files(
        self,
        files: Sequence[Path | tuple[str, BinaryIO | bytes]],
        *,
        asynchronous: bool = False,
        request_metadata: str | None = None,
        pages_to_process: str | None = None,
        async_style: str = "query",
    ) -> dict[str, Any]:
        form: dict[str, str] = {}
        if request_metadata is not None:
            form["request_metadata"] = request_metadata
        if pages_to_process is not None:
            form["pages_to_process"] = pages_to_process
        path, params = self._predict_target("LabelFile", asynchronous, async_style)
        if asynchronous and async_style == "path":
            form["async"] = "true"
        return self._request("POST", path, params=params, data=form, files=_multipart(files))

    def _predict_target(self, endpoint: str, asynchronous: bool, style: str) -> tuple[str, dict[str, str]]:
        base = self._path("/OCR/Model/{model}/" + endpoint + "/")
        if not asynchronous:
            return base, {}
        if style == "path":
            return base + "Async/", {}
        return base, {"async": "true"}

    def submit_url_async(self, url: str, request_metadata: Mapping[str, Any]) -> str:
        """Submit one URL for async prediction; the request_file_id Nanonets gave it."""
        answer = self.predict_urls(
            [url], asynchronous=True, request_metadata=json.dumps(dict(request_metadata))
        )
        for item in answer.get("result") or []:
            if (
                isinstance(item, dict)
                and isinstance(item.get("request_file_id"), str)
                and item["request_file_id"]
            ):
                return str(item["request_file_id"])
        raise NanonetsError("the async answer carries no request_file_id", endpoint="LabelUrls")

    # ---- retrieve ----

    def fetch_file(self, request_file_id: str) -> dict[str, Any]:
        """Prediction by file id: the `/Inferences/` path of the OpenAPI seed, else the guide's `getFile`."""
        try:
            return self.get_file(request_file_id)
        except NanonetsNotFound:
            return self._request(
                "GET", self._path("/OCR/Model/{model}/getFile/{file_id}/", file_id=request_file_id)
            )

    def get_file(self, request_file_id: str) -> dict[str, Any]:
        path = self._path("/Inferences/Model/{model}/InferenceRequest/{file_id}", file_id=request_file_id)
        return self._request("GET", path)

    def get_page(self, request_file_id: str, page_id: str) -> dict[str, Any]:
        path = self._path(
            "/Inferences/Model/{model}/InferenceRequest/{file_id}/page/{page_id}",
            file_id=request_file_id,
            page_id=page_id,
        )
        try:
            return self._request("GET", path)
        except NanonetsNotFound:
            return self._request(
                "GET", self._path("/OCR/Model/{model}/ImageLevelInferences/{page_id}/", page_id=page_id)
            )

    def list_files(self, start_day_interval: int, current_batch_day: int) -> dict[str, Any]:
        params = {"start_day_interval": str(start_day_interval), "current_batch_day": str(current_batch_day)}
        try:
            return self._request(
                "GET", self._path("/Inferences/Model/{model}/InferenceRequest/"), params=params
            )
        except NanonetsNotFound:
            return self._request("GET", self._path("/OCR/Model/{model}/getModelImages/"), params=params)

    # ---- train ----

    def upload_training_urls(self, urls: Sequence[str], data: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"urls": list(urls)}
        if data is not None:
            body["data"] = data
        return self._request("POST", self._path("/OCR/Model/{model}/UploadUrls/"), json=body)

    def upload_training_files(
        self, files: Sequence[Path | tuple[str, BinaryIO | bytes]], data: str
    ) -> dict[str, Any]:
        return self._request(
            "POST", self._path("/OCR/Model/{model}/UploadFile/"), data={"data": data}, files=_multipart(files)
        )

    def train(self) -> dict[str, Any]:
        return self._request("POST", self._path("/OCR/Model/{model}/Train/"))

    # ---- files ----

    def approve(self, request_file_id: str) -> dict[str, Any]:
        return self._request(
            "POST", self._path("/OCR/Model/{model}/ApproveFile/{file_id}/", file_id=request_file_id)
        )

    def delete(self, request_file_id: str) -> dict[str, Any]:
        return self._request(
            "DELETE", self._path("/OCR/Model/{model}/DeleteFile/{file_id}/", file_id=request_file_id)
        )

    def update_fields(self, request_file_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
        body = {"fields": [{"label": label, "ocr_text": text} for label, text in fields.items()]}
        path = self._path("/OCR/Model/{model}/UpdateFile/{file_id}/", file_id=request_file_id)
        return self._request("PATCH", path, json=body)

    def export(self, request_file_id: str) -> dict[str, Any]:
        return self._request(
            "POST", self._path("/OCR/Model/{model}/ExportFile/{file_id}/", file_id=request_file_id)
        )


def _multipart(files: Sequence[Path | tuple[str, BinaryIO | bytes]]) -> list[tuple[str, Any]]:
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


def _error_for(response: requests.Response, path: str) -> NanonetsError:
    status = response.status_code
    message = _message(response)
    kinds: dict[int, type[NanonetsError]] = {
        400: NanonetsBadRequest,
        401: NanonetsAuthError,
        403: NanonetsAuthError,
        402: NanonetsQuotaExceeded,
        404: NanonetsNotFound,
        429: NanonetsRateLimited,
    }
    kind = kinds.get(status, NanonetsUnavailable if status >= 500 else NanonetsError)
    if kind is NanonetsAuthError:
        message = f"{message} (check NANONETS_API_KEY)"
    log.warning("nanonets error", extra={"status": status, "endpoint": path})
    return kind(message, status=status, endpoint=path)


def _json_body(response: requests.Response, path: str) -> dict[str, Any]:
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
