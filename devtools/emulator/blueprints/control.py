"""The control API under /_emulator (no auth): reset, config, faults, the call log, files, flush."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from devtools.emulator import lifecycle
from devtools.emulator.answers import message
from devtools.emulator.config import config_problem
from devtools.emulator.notify import send_webhook
from devtools.emulator.state import FileRecord, current_state

control_api = Blueprint("control", __name__, url_prefix="/_emulator")


@control_api.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@control_api.post("/reset")
def reset() -> Response:
    current_state().reset()
    return jsonify({"status": "reset"})


@control_api.post("/config")
def configure() -> Response:
    state = current_state()
    changes = request.get_json(silent=True) or {}
    problem = config_problem(changes) if isinstance(changes, dict) else "expected a JSON object"
    if problem:
        return message(problem, 400)
    with state.lock:
        for name, value in changes.items():
            setattr(state.config, name, value)
    return jsonify({k: v for k, v in vars(state.config).items() if k != "api_keys"})


@control_api.post("/faults")
def faults() -> Response:
    try:
        current = current_state().faults.update(request.get_json(silent=True) or {})
    except ValueError as error:
        return message(str(error), 400)
    return jsonify(vars(current))


@control_api.get("/calls")
def calls() -> Response:
    state = current_state()
    with state.lock:
        return jsonify(list(state.calls))


@control_api.get("/files")
def files() -> Response:
    state = current_state()
    with state.lock:
        return jsonify([r.summary() for r in state.files.values()])


def _ready(file_id: str) -> FileRecord | Response:
    record = current_state().get(file_id)
    if record is None or record.pages is None:
        return message("File not found or not ready", 404)
    return record


@control_api.post("/files/<file_id>/reject")
def reject(file_id: str) -> Response:
    record = _ready(file_id)
    if isinstance(record, Response):
        return record
    lifecycle.reject(current_state(), record)
    return jsonify({"message": "Success"})


@control_api.post("/files/<file_id>/review")
def review(file_id: str) -> Response:
    """A person reviews the file in Nanonets: `{"fields": {label: corrected text}, "approve": true}`."""
    record = _ready(file_id)
    if isinstance(record, Response):
        return record
    body = request.get_json(silent=True)
    corrections = body.get("fields", {}) if isinstance(body, dict) else None
    approve = body.get("approve", True) if isinstance(body, dict) else None
    if not isinstance(corrections, dict) or not isinstance(approve, bool):
        return message('expected {"fields": {"label": "corrected text", ...}, "approve": true|false}', 400)
    lifecycle.review(
        current_state(), record, {str(k): str(v) for k, v in corrections.items()}, approve=approve
    )
    return jsonify(record.summary())


@control_api.post("/files/<file_id>/webhook")
def resend(file_id: str) -> Response:
    record = _ready(file_id)
    if isinstance(record, Response):
        return record
    send_webhook(current_state(), record)
    return jsonify({"message": "Success"})


@control_api.post("/flush")
def flush() -> Response:
    body = request.get_json(silent=True) or {}
    return jsonify({"idle": current_state().background.wait_idle(float(body.get("timeout", 30)))})
