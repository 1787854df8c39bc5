"""LabelUrls and LabelFile, sync and async: predictions from the downloaded or uploaded bytes, within the
account's call quota, page credit and pages-per-minute limit."""

from __future__ import annotations

import uuid

import requests
from flask import Blueprint, Response, jsonify, request

from devtools.emulator.answers import message, unknown_model
from devtools.emulator.blueprints import API
from devtools.emulator.bodies import prediction_entries
from devtools.emulator.inputs import is_async, name_of, today, urls_and_metadata
from devtools.emulator.lifecycle import predict_later, predict_now
from devtools.emulator.predictions import predict
from devtools.emulator.state import EmulatorState, FileRecord, current_state

DOWNLOAD_TIMEOUT = 10

predict_api = Blueprint("predict", __name__, url_prefix=API + "/OCR/Model/<model>")

Document = tuple[str, str, bytes]  # (source, name, content)


@predict_api.post("/LabelUrls/")
@predict_api.post("/LabelUrls/Async/")
def label_urls(model: str) -> Response:
    state = current_state()
    if refused := unknown_model(state, model) or _quota_or_402(state):
        return refused
    urls, metadata = urls_and_metadata()
    if not urls:
        return message("urls is required", 400)
    documents: list[Document] = []
    failed: list[Response] = []
    for url in urls:
        content = _download(url)
        if isinstance(content, Response):
            failed.append(content)
        else:
            documents.append((url, name_of(url), content))
    if not documents:
        return failed[0]
    answer = _predict(state, model, documents, metadata)
    if failed and answer.status_code == 200:
        answer.status_code = 202  # partial success: some URLs could not be downloaded
    return answer


@predict_api.post("/LabelFile/")
@predict_api.post("/LabelFile/Async/")
def label_file(model: str) -> Response:
    state = current_state()
    if refused := unknown_model(state, model) or _quota_or_402(state):
        return refused
    uploads = request.files.getlist("file")
    if not uploads:
        return message("file is required", 400)
    documents = [(u.filename or "upload", u.filename or "upload", u.read()) for u in uploads]
    return _predict(state, model, documents, request.form.get("request_metadata"))


def _quota_or_402(state: EmulatorState) -> Response | None:
    with state.lock:
        if state.config.quota is None:
            return None
        if state.config.quota <= 0:
            return message("Free calls exhausted: upgrade your plan", 402)
        state.config.quota -= 1
    return None


def _pages_or_refusal(state: EmulatorState, model: str, pages: int) -> Response | None:
    """Spend `pages` of the credit and the per-minute budget, or say why not (nothing spent then)."""
    with state.lock:
        credit = state.config.credit_pages
        if credit is not None and credit < pages:
            return message("Insufficient credits: add credits to continue processing", 402)
        if not state.limiter.take(model, pages, state.config):
            return message(
                "Rate limit exceeded: too many pages per minute for this model", 429
            )  # no Retry-After
        if credit is not None:
            state.config.credit_pages = credit - pages
    return None


def _download(url: str) -> bytes | Response:
    try:
        response = requests.get(url, timeout=DOWNLOAD_TIMEOUT)
    except requests.RequestException as error:
        return message(f"could not download {url}: {type(error).__name__}", 400)
    if response.status_code != 200:
        return message(f"could not download {url}: HTTP {response.status_code}", 400)
    return response.content


def _predict(state: EmulatorState, model: str, documents: list[Document], metadata: str | None) -> Response:
    pages = sum(len(predict(content, name)) for _, name, content in documents)
    refused = _pages_or_refusal(state, model, pages)
    if refused:
        return refused
    records = [
        FileRecord(str(uuid.uuid4()), model, source, name, metadata, today(), content)
        for source, name, content in documents
    ]
    for record in records:
        state.add(record)
    if not is_async():
        result = []
        for record in records:
            predict_now(record)
            result += prediction_entries(record, state.config.score_scale)
        return jsonify({"message": "Success", "result": result, "signed_urls": {}})
    for record in records:
        predict_later(state, record)
    accepted = [
        {
            "message": "Success",
            "request_file_id": r.request_file_id,
            "filepath": r.name,
            "status": "processing",
        }
        for r in records
    ]
    return jsonify({"message": "Success", "result": accepted})
