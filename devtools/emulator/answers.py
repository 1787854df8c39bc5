"""Answers in Nanonets' error style, and lookups that answer 404 (or 400) the way Nanonets does."""

from __future__ import annotations

import math

from flask import Response, abort, jsonify

from devtools.emulator.state import EmulatorState, FileRecord, current_state


def message(text: str, status: int, **headers: str) -> Response:
    response = jsonify({"message": text})
    response.status_code = status
    response.headers.update(headers)
    return response


def seconds(value: float | None) -> str:
    """Retry-After is whole seconds (RFC 9110): round a fractional wait up, never down to zero."""
    return "0" if not value or value <= 0 else str(math.ceil(value))


def unknown_model(state: EmulatorState, model: str) -> Response | None:
    return None if model in state.config.model_ids else message("Model not found", 404)


def known_file(state: EmulatorState, model: str, file_id: str) -> FileRecord | Response:
    if model not in state.config.model_ids:
        return message("Model not found", 404)
    record = state.get(file_id)
    if record is None or record.state == "deleted" or record.model_id != model:
        return message("File not found", 404)
    return record


def ready_file(state: EmulatorState, model: str, file_id: str) -> FileRecord | Response:
    found = known_file(state, model, file_id)
    if isinstance(found, FileRecord) and found.pages is None:
        return message("File is still processing", 400)
    return found


def require_family(name: str) -> None:
    """404, as for a path this server never had, when the path family `name` (a config flag) is off."""
    if not getattr(current_state().config, name):
        abort(404)
