"""The one mapping from error types to HTTP answers; never a stack trace to the caller."""

from __future__ import annotations

import logging

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from service.errors import NanonetsError, PayloadRejected, StorageUnavailable

log = logging.getLogger(__name__)


def error_body(code: str, detail: str, status: int, **headers: str) -> Response:
    response = jsonify({"error": code, "detail": detail})
    response.status_code = status
    response.headers.update(headers)
    return response


def error_response(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return error_body(code, error.description or error.name, error.code or 500)
    if isinstance(error, PayloadRejected):
        status = 400 if error.code == "not_json" else 422
        return error_body(error.code, error.message, status)
    if isinstance(error, StorageUnavailable):
        log.error("storage unavailable", extra={"error": str(error)})
        return error_body(
            "storage_unavailable", "storage is unreachable; retry later", 503, **{"Retry-After": "5"}
        )
    if isinstance(error, NanonetsError):
        log.error("nanonets unavailable", extra={"error": str(error)})
        return error_body(
            "nanonets_unavailable", f"Nanonets lookup failed: {error}", 503, **{"Retry-After": "30"}
        )
    log.exception("unhandled error")
    return error_body("internal_error", "the request could not be processed; it was logged", 500)
