"""The emulator's Flask app: the Nanonets API of both seeds under /api/v2, and a control API under
/_emulator. All state lives in one `EmulatorState` built by the factory (no module-level state)."""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import itertools
import math
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from flask import Flask, Response, g, jsonify, request

from service.emulator.faults import FaultInjector
from service.emulator.predictions import Pages, predict
from service.emulator.webhooks import Background, deliver

API = "/api/v2"
DOWNLOAD_TIMEOUT = 10


@dataclass
class EmulatorConfig:
    api_keys: list[str] = field(default_factory=lambda: ["emulator-key"])
    model_ids: list[str] = field(default_factory=lambda: ["emulator-model"])
    webhook_url: str | None = None
    webhooks_enabled: bool = True
    webhook_shape: str = "prediction"
    processing_delay: float = 0.05
    webhook_retries: int = 5
    webhook_retry_delay: float = 0.2
    quota: int | None = None
    new_retrieval_paths: bool = True


@dataclass
class FileRecord:
    request_file_id: str
    model_id: str
    source: str
    request_metadata: str | None
    created_day: int
    pages: Pages | None = None  # None while processing
    state: str = "processing"
    webhooks_sent: int = 0
    approved: bool = False
    rejected: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "request_file_id": self.request_file_id,
            "state": self.state,
            "source": self.source,
            "request_metadata": self.request_metadata,
            "pages": None if self.pages is None else len(self.pages),
            "webhooks_sent": self.webhooks_sent,
            "approved": self.approved,
            "rejected": self.rejected,
        }


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.initial = copy.deepcopy(config)
        self.config = config
        self.lock = threading.Lock()
        self.files: dict[str, FileRecord] = {}
        self.calls: list[dict[str, Any]] = []
        self.faults = FaultInjector()
        self.background = Background()
        self._shape_counter = itertools.count()

    def reset(self) -> None:
        self.background.cancel_pending()
        self.background.wait_idle(10)
        with self.lock:
            self.config = copy.deepcopy(self.initial)
            self.files.clear()
            self.calls.clear()
        self.faults.reset()

    def next_shape(self) -> str:
        shape = self.config.webhook_shape
        if shape == "mixed":
            return "prediction" if next(self._shape_counter) % 2 == 0 else "retrieval"
        return shape


def message(text: str, status: int, **headers: str) -> Response:
    response = jsonify({"message": text})
    response.status_code = status
    response.headers.update(headers)
    return response


def create_emulator_app(config: EmulatorConfig | None = None) -> Flask:
    state = EmulatorState(config or EmulatorConfig())
    app = Flask("nanonets-emulator")
    app.extensions["emulator"] = state
    _register_api(app, state)
    _register_control(app, state)
    return app


# ================= the Nanonets API =================


def _register_api(app: Flask, state: EmulatorState) -> None:
    @app.before_request
    def gate() -> Response | None:
        if not request.path.startswith(API + "/"):
            return None
        g.started = time.time()
        decision = state.faults.decide()
        if decision.delay:
            time.sleep(decision.delay)
        if decision.status is not None:
            headers = (
                {"Retry-After": _seconds(decision.retry_after)} if decision.retry_after is not None else {}
            )
            return message("injected fault", decision.status, **headers)
        if not _authorized(state):
            return message("Invalid API key", 401)
        return None

    @app.after_request
    def record(response: Response) -> Response:
        if request.path.startswith(API + "/"):
            with state.lock:
                state.calls.append(
                    {
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "time": time.time(),
                    }
                )
        return response

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return message("Not Found", 404)

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return message("Method Not Allowed", 405)

    @app.errorhandler(Exception)
    def broken(error: Exception) -> Response:
        return message(f"bad request: {type(error).__name__}", 400)

    def model_or_404(model: str) -> Response | None:
        return None if model in state.config.model_ids else message("Model not found", 404)

    def quota_or_402() -> Response | None:
        with state.lock:
            if state.config.quota is None:
                return None
            if state.config.quota <= 0:
                return message("Free calls exhausted: upgrade your plan", 402)
            state.config.quota -= 1
        return None

    @app.post(API + "/OCR/Model/<model>/LabelUrls/")
    @app.post(API + "/OCR/Model/<model>/LabelUrls/Async/")
    def label_urls(model: str) -> Response:
        refused = model_or_404(model) or quota_or_402()
        if refused:
            return refused
        urls, metadata = _urls_and_metadata()
        if not urls:
            return message("urls is required", 400)
        documents = []
        for url in urls:
            content = _download(url)
            if isinstance(content, Response):
                return content
            documents.append((url, _name_of(url), content))
        return _predict(state, model, documents, metadata)

    @app.post(API + "/OCR/Model/<model>/LabelFile/")
    @app.post(API + "/OCR/Model/<model>/LabelFile/Async/")
    def label_file(model: str) -> Response:
        refused = model_or_404(model) or quota_or_402()
        if refused:
            return refused
        uploads = request.files.getlist("file")
        if not uploads:
            return message("file is required", 400)
        documents = [(u.filename or "upload", u.filename or "upload", u.read()) for u in uploads]
        return _predict(state, model, documents, request.form.get("request_metadata"))

    @app.get(API + "/Inferences/Model/<model>/InferenceRequest/<file_id>")
    @app.get(API + "/Inferences/Model/<model>/InferenceRequest/<file_id>/")
    def inference_file(model: str, file_id: str) -> Response:
        if not state.config.new_retrieval_paths:
            return message("Not Found", 404)
        return _retrieve_file(state, model, file_id)

    @app.get(API + "/OCR/Model/<model>/getFile/<file_id>/")
    def get_file_old(model: str, file_id: str) -> Response:
        return _retrieve_file(state, model, file_id)

    @app.get(API + "/Inferences/Model/<model>/InferenceRequest/<file_id>/page/<page_id>")
    def inference_page(model: str, file_id: str, page_id: str) -> Response:
        if not state.config.new_retrieval_paths:
            return message("Not Found", 404)
        return _retrieve_page(state, model, page_id, file_id)

    @app.get(API + "/OCR/Model/<model>/ImageLevelInferences/<page_id>/")
    def image_level(model: str, page_id: str) -> Response:
        return _retrieve_page(state, model, page_id, None)

    @app.get(API + "/Inferences/Model/<model>/InferenceRequest/")
    def inference_window(model: str) -> Response:
        if not state.config.new_retrieval_paths:
            return message("Not Found", 404)
        return _retrieve_window(state, model)

    @app.get(API + "/OCR/Model/<model>/getModelImages/")
    def model_images(model: str) -> Response:
        return _retrieve_window(state, model)

    @app.post(API + "/OCR/Model/<model>/UploadFile/")
    def upload_file(model: str) -> Response:
        refused = model_or_404(model)
        if refused:
            return refused
        uploads = request.files.getlist("file")
        if not uploads or not request.form.get("data"):
            return message("file and data are required", 400)
        return jsonify(
            {
                "message": "Success",
                "result": [{"filename": u.filename, "status": "uploaded"} for u in uploads],
            }
        )

    @app.post(API + "/OCR/Model/<model>/UploadUrls/")
    def upload_urls(model: str) -> Response:
        refused = model_or_404(model)
        if refused:
            return refused
        urls, _ = _urls_and_metadata()
        if not urls:
            return message("urls is required", 400)
        return jsonify({"message": "Success", "result": [{"url": u, "status": "uploaded"} for u in urls]})

    @app.post(API + "/OCR/Model/<model>/Train/")
    def train(model: str) -> Response:
        return model_or_404(model) or jsonify({"message": "Training started", "model_id": model})

    @app.post(API + "/OCR/Model/<model>/ApproveFile/<file_id>/")
    def approve(model: str, file_id: str) -> Response:
        found = _ready_file(state, model, file_id)
        if isinstance(found, Response):
            return found
        found.approved, found.rejected = True, False
        _send_webhook(state, found, "retrieval", moderated=True)
        return jsonify({"message": "Success"})

    @app.delete(API + "/OCR/Model/<model>/DeleteFile/<file_id>/")
    def delete(model: str, file_id: str) -> Response:
        found = _known_file(state, model, file_id)
        if isinstance(found, Response):
            return found
        found.state = "deleted"
        return jsonify({"message": "Success"})

    @app.patch(API + "/OCR/Model/<model>/UpdateFile/<file_id>/")
    def update(model: str, file_id: str) -> Response:
        found = _ready_file(state, model, file_id)
        if isinstance(found, Response):
            return found
        body = request.get_json(silent=True)
        changes = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(changes, list) or not all(isinstance(c, dict) and "label" in c for c in changes):
            return message('expected {"fields": [{"label": ..., "ocr_text": ...}]}', 400)
        texts = {str(c["label"]): str(c.get("ocr_text", "")) for c in changes}
        for page in found.pages or []:
            for box in page:
                if box.get("label") in texts:
                    box["ocr_text"] = texts[box["label"]]
        return jsonify({"message": "Success"})

    @app.post(API + "/OCR/Model/<model>/ExportFile/<file_id>/")
    def export(model: str, file_id: str) -> Response:
        found = _ready_file(state, model, file_id)
        if isinstance(found, Response):
            return found
        return jsonify({"message": "Success", "request_file_id": file_id})


def _authorized(state: EmulatorState) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, _ = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return user in state.config.api_keys


def _seconds(value: float | None) -> str:
    """Retry-After is whole seconds (RFC 9110): round a fractional wait up, never down to zero."""
    return "0" if not value or value <= 0 else str(math.ceil(value))


def _urls_and_metadata() -> tuple[list[str], str | None]:
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        urls = body.get("urls")
        metadata = body.get("request_metadata")
        return ([str(u) for u in urls] if isinstance(urls, list) else []), (
            metadata if isinstance(metadata, str) else None
        )
    return request.form.getlist("urls"), request.form.get("request_metadata")


def _name_of(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "document"


def _download(url: str) -> bytes | Response:
    try:
        response = requests.get(url, timeout=DOWNLOAD_TIMEOUT)
    except requests.RequestException as error:
        return message(f"could not download {url}: {type(error).__name__}", 400)
    if response.status_code != 200:
        return message(f"could not download {url}: HTTP {response.status_code}", 400)
    return response.content


def _is_async() -> bool:
    return request.path.endswith("/Async/") or request.args.get("async", "").lower() == "true"


def _day() -> int:
    return int(time.time() // 86400)


def _predict(
    state: EmulatorState, model: str, documents: list[tuple[str, str, bytes]], metadata: str | None
) -> Response:
    if not _is_async():
        result = []
        for source, name, content in documents:
            record = FileRecord(
                str(uuid.uuid4()), model, source, metadata, _day(), predict(content, name), "ready"
            )
            with state.lock:
                state.files[record.request_file_id] = record
            result += _prediction_pages(record, name)
        return jsonify({"message": "Success", "result": result, "signed_urls": {}})
    accepted = []
    for source, name, content in documents:
        record = FileRecord(str(uuid.uuid4()), model, source, metadata, _day())
        with state.lock:
            state.files[record.request_file_id] = record
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
    _send_webhook(state, record, state.next_shape())


def _send_webhook(
    state: EmulatorState, record: FileRecord, shape: str, *, moderated: bool = False, rejected: bool = False
) -> None:
    url = state.config.webhook_url
    if not url or not state.config.webhooks_enabled:
        return
    copies = state.faults.webhook_copies()
    if shape == "retrieval":
        body = _retrieval_body([record], moderated=moderated)
        if rejected:
            body["status"] = "rejected"
    else:
        body = {
            "message": "Success",
            "result": _prediction_pages(record, _name_of(record.source)),
            "signed_urls": {},
        }
    for _ in range(copies):
        sent = _shuffled(state, body)
        record.webhooks_sent += 1
        state.background.submit(
            functools.partial(
                deliver,
                url,
                sent,
                retries=state.config.webhook_retries,
                retry_delay=state.config.webhook_retry_delay,
            )
        )


def _shuffled(state: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    for key in ("result", "moderated_images", "unmoderated_images"):
        if isinstance(body.get(key), list):
            body[key] = state.faults.shuffle(body[key])
    return body


def _page_id(record: FileRecord, index: int) -> str:
    return f"{record.request_file_id}-p{index}"


def _prediction_pages(record: FileRecord, name: str) -> list[dict[str, Any]]:
    return [
        {
            "message": "Success",
            "input": name,
            "prediction": page,
            "page": index,
            "request_file_id": record.request_file_id,
            "id": _page_id(record, index),
            "request_metadata": record.request_metadata,
            "processing_type": "async",
            "size": {"width": 1240, "height": 1754},
        }
        for index, page in enumerate(record.pages or [])
    ]


def _moderated_pages(record: FileRecord, only_page: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "model_id": record.model_id,
            "day_since_epoch": record.created_day,
            "is_moderated": record.approved,
            "id": _page_id(record, index),
            "url": record.source
            if record.source.startswith("http")
            else f"https://emulator.local/{record.source}",
            "predicted_boxes": page,
            "request_file_id": record.request_file_id,
            "request_metadata": record.request_metadata,
            "page": index,
        }
        for index, page in enumerate(record.pages or [])
        if only_page is None or _page_id(record, index) == only_page
    ]


def _retrieval_body(
    records: list[FileRecord], *, moderated: bool | None = None, only_page: str | None = None
) -> dict[str, Any]:
    approved: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for record in records:
        is_moderated = record.approved if moderated is None else moderated
        (approved if is_moderated else other).extend(_moderated_pages(record, only_page))
    return {
        "moderated_images_count": len(approved),
        "unmoderated_images_count": len(other),
        "moderated_images": approved,
        "unmoderated_images": other,
        "signed_urls": {},
    }


def _known_file(state: EmulatorState, model: str, file_id: str) -> FileRecord | Response:
    if model not in state.config.model_ids:
        return message("Model not found", 404)
    with state.lock:
        record = state.files.get(file_id)
    if record is None or record.state == "deleted" or record.model_id != model:
        return message("File not found", 404)
    return record


def _ready_file(state: EmulatorState, model: str, file_id: str) -> FileRecord | Response:
    found = _known_file(state, model, file_id)
    if isinstance(found, FileRecord) and found.pages is None:
        return message("File is still processing", 400)
    return found


def _retrieve_file(state: EmulatorState, model: str, file_id: str) -> Response:
    found = _known_file(state, model, file_id)
    if isinstance(found, Response):
        return found
    body = _retrieval_body([found])
    if found.rejected:
        body["status"] = "rejected"
    return jsonify(body)


def _retrieve_page(state: EmulatorState, model: str, page_id: str, file_id: str | None) -> Response:
    file_id = file_id or page_id.rsplit("-p", 1)[0]
    found = _known_file(state, model, file_id)
    if isinstance(found, Response):
        return found
    body = _retrieval_body([found], only_page=page_id)
    if not body["moderated_images"] and not body["unmoderated_images"] and found.pages is not None:
        return message("Page not found", 404)
    return jsonify(body)


def _retrieve_window(state: EmulatorState, model: str) -> Response:
    if model not in state.config.model_ids:
        return message("Model not found", 404)
    try:
        interval = int(request.args["start_day_interval"])
        batch_day = int(request.args.get("current_batch_day", _day()))
    except (KeyError, ValueError):
        return message("start_day_interval and current_batch_day are required integers", 400)
    if batch_day == 0:
        batch_day = _day()  # the guide's "0 = today"
    with state.lock:
        records = [
            r
            for r in state.files.values()
            if r.model_id == model
            and r.state != "deleted"
            and batch_day - interval <= r.created_day <= batch_day
        ]
    return jsonify(_retrieval_body(records))


# ================= control =================


def _register_control(app: Flask, state: EmulatorState) -> None:
    control = "/_emulator"

    @app.get(control + "/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.post(control + "/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"status": "reset"})

    @app.post(control + "/config")
    def configure() -> Response:
        changes = request.get_json(silent=True) or {}
        known = {f.name for f in fields(EmulatorConfig)}
        unknown = set(changes) - known
        if unknown:
            return message(f"unknown config keys: {', '.join(sorted(unknown))}", 400)
        with state.lock:
            for name, value in changes.items():
                setattr(state.config, name, value)
        return jsonify({k: v for k, v in vars(state.config).items() if k != "api_keys"})

    @app.post(control + "/faults")
    def faults() -> Response:
        try:
            current = state.faults.update(request.get_json(silent=True) or {})
        except ValueError as error:
            return message(str(error), 400)
        return jsonify(vars(current))

    @app.get(control + "/calls")
    def calls() -> Response:
        with state.lock:
            return jsonify(list(state.calls))

    @app.get(control + "/files")
    def files() -> Response:
        with state.lock:
            return jsonify([r.summary() for r in state.files.values()])

    @app.post(control + "/files/<file_id>/reject")
    def reject(file_id: str) -> Response:
        with state.lock:
            record = state.files.get(file_id)
        if record is None or record.pages is None:
            return message("File not found or not ready", 404)
        record.rejected, record.approved = True, False
        _send_webhook(state, record, "retrieval", moderated=False, rejected=True)
        return jsonify({"message": "Success"})

    @app.post(control + "/files/<file_id>/webhook")
    def resend(file_id: str) -> Response:
        with state.lock:
            record = state.files.get(file_id)
        if record is None or record.pages is None:
            return message("File not found or not ready", 404)
        _send_webhook(state, record, state.next_shape())
        return jsonify({"message": "Success"})

    @app.post(control + "/flush")
    def flush() -> Response:
        body = request.get_json(silent=True) or {}
        return jsonify({"idle": state.background.wait_idle(float(body.get("timeout", 30)))})
