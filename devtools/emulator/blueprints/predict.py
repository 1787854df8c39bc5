"""LabelUrls and LabelFile, sync and async: predictions from the downloaded or uploaded bytes."""

from __future__ import annotations

import functools
import uuid

import requests
from flask import Blueprint, Response, jsonify, request

from devtools.emulator.answers import message, unknown_model
from devtools.emulator.blueprints import API
from devtools.emulator.bodies import prediction_pages
from devtools.emulator.inputs import is_async, name_of, today, urls_and_metadata
from devtools.emulator.notify import send_webhook
from devtools.emulator.predictions import predict
from devtools.emulator.state import EmulatorState, FileRecord, current_state

DOWNLOAD_TIMEOUT = 10

predict_api = Blueprint("predict", __name__, url_prefix=API + "/OCR/Model/<model>")

Document = tuple[str, str, bytes]  # (source, name, content)


@predict_api.post("/LabelUrls/")
@predict_api.post("/LabelUrls/Async/")
def label_urls(model: str) -> Response:
    state = current_state()
    refused = unknown_model(state, model) or _quota_or_402(state)
    if refused:
        return refused
    urls, metadata = urls_and_metadata()
    if not urls:
        return message("urls is required", 400)
    documents = []
    for url in urls:
        content = _download(url)
        if isinstance(content, Response):
            return content
        documents.append((url, name_of(url), content))
    return _predict(state, model, documents, metadata)


@predict_api.post("/LabelFile/")
@predict_api.post("/LabelFile/Async/")
def label_file(model: str) -> Response:
    state = current_state()
    refused = unknown_model(state, model) or _quota_or_402(state)
    if refused:
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


def _download(url: str) -> bytes | Response:
    try:
        response = requests.get(url, timeout=DOWNLOAD_TIMEOUT)
    except requests.RequestException as error:
        return message(f"could not download {url}: {type(error).__name__}", 400)
    if response.status_code != 200:
        return message(f"could not download {url}: HTTP {response.status_code}", 400)
    return response.content


def _predict(state: EmulatorState, model: str, documents: list[Document], metadata: str | None) -> Response:
    if not is_async():
        result = []
        for source, name, content in documents:
            record = FileRecord(
                str(uuid.uuid4()), model, source, metadata, today(), predict(content, name), "ready"
            )
            state.add(record)
            result += prediction_pages(record, name)
        return jsonify({"message": "Success", "result": result, "signed_urls": {}})
    accepted = []
    for source, name, content in documents:
        record = FileRecord(str(uuid.uuid4()), model, source, metadata, today())
        state.add(record)
        state.background.submit(
            functools.partial(_finish, state, record, name, content), state.config.processing_delay
        )
        accepted.append(
            {
                "message": "Success",
                "request_file_id": record.request_file_id,
                "filepath": name,
                "status": "processing",
            }
        )
    return jsonify({"message": "Success", "result": accepted})


def _finish(state: EmulatorState, record: FileRecord, name: str, content: bytes) -> None:
    record.pages = predict(content, name)
    record.state = "ready"
    send_webhook(state, record, state.next_shape())
