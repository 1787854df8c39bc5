"""Flask app factory and routes: the webhook, the S3 event endpoint, health and the OpenAPI document.

Verify first, parse second (Stripe's rule): the secret is checked before the body is read, the raw body is
archived before it is parsed. Errors are mapped to HTTP answers in `_error_response` and nowhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from functools import partial
from importlib import resources
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service.adapters.sns import confirm_subscription
from service.errors import NanonetsError, PayloadRejected, StorageUnavailable
from service.intake import handle_event_payload
from service.logs import configure_logging
from service.observability import Metrics
from service.observability.http import install_metrics_endpoint, webhook_outcome
from service.observability.pending import report_pending
from service.pipeline import Pipeline, Services, decode_json
from service.settings import Settings, load_settings

log = logging.getLogger(__name__)

PIPELINE = "nanonets_ingest.pipeline"
SECRET_DIGEST = "nanonets_ingest.secret_digest"  # noqa: S105 - an extension name, not a secret

api = Blueprint("api", __name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """WSGI factory (`service.web:create_app()` under gunicorn). Refuses to start half-configured."""
    settings = settings or load_settings()
    secret = settings.require_webhook_secret().get_secret_value()
    configure_logging(settings.log_level, secrets=[secret, settings.nanonets_api_key.get_secret_value()])
    if services is None:  # under gunicorn; Lambda hands in its own services, publishing EMF
        from service.observability.prometheus import PrometheusSink  # not on Lambda: 40 ms of cold start

        metrics = Metrics(PrometheusSink(settings.prometheus_multiproc_dir))
        services = Services.from_settings(settings, metrics=metrics)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[PIPELINE] = Pipeline(services)
    app.extensions[SECRET_DIGEST] = _digest(secret)
    app.register_blueprint(api)
    refresh = partial(report_pending, services.storage, services.metrics, services.clock)
    install_metrics_endpoint(app, services.metrics, settings.metrics_token, refresh)
    app.register_error_handler(Exception, _error_response)
    app.before_request(_start_timer)
    app.after_request(_log_request)
    return app


def _pipeline() -> Pipeline:
    pipeline: Pipeline = current_app.extensions[PIPELINE]
    return pipeline


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def _authorized() -> bool:
    """Token from ?token= (Nanonets can only be given a URL) or X-Webhook-Token; constant-time compare of
    fixed-length digests, so neither content nor length leaks through timing."""
    supplied = request.args.get("token") or request.headers.get("X-Webhook-Token") or ""
    return hmac.compare_digest(_digest(supplied), current_app.extensions[SECRET_DIGEST])


def error_body(code: str, detail: str, status: int, **headers: str) -> Response:
    response = jsonify({"error": code, "detail": detail})
    response.status_code = status
    response.headers.update(headers)
    return response


def _read_body() -> bytes:
    """The body, or 413 past MAX_BODY_BYTES, whether or not the client sent a Content-Length."""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        # Werkzeug refuses an over-limit Content-Length with 413 before reading anything.
        return request.get_data(cache=False)
    # Chunked (gunicorn terminates the stream): werkzeug's limited stream stops silently at the limit,
    # which would hand us a truncated body. Read one byte past the limit to tell "exactly" from "over".
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    stream = request.environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)


@api.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@api.get("/openapi.json")
def openapi() -> Response:
    text = resources.files("service").joinpath("openapi.json").read_text(encoding="utf-8")
    return Response(text, mimetype="application/json")


@api.post("/webhooks/nanonets")
def nanonets_webhook() -> Response:
    if not _authorized():
        return error_body("unauthorized", "missing or wrong webhook token", 401)
    body = _read_body()
    if not body.strip():
        return error_body("empty_body", "the request has no body", 400)
    result = _pipeline().receive_webhook(body)
    response = jsonify(result.model_dump(exclude_none=True))
    response.status_code = 202 if result.deferred else 200
    return response


@api.post("/events/s3")
def s3_events() -> Response:
    if not _authorized():
        return error_body("unauthorized", "missing or wrong webhook token", 401)
    body = _read_body()
    pipeline = _pipeline()
    try:
        payload = decode_json(body)
        summary = handle_event_payload(pipeline, payload, confirm=confirm_subscription)
    except PayloadRejected as rejected:
        # Kept, so nothing is lost: an operator can read it back from the quarantine.
        raw_key = pipeline.storage.archive_raw(body)
        pipeline.quarantine(kind="event", code=rejected.code, reason=rejected.message, raw_key=raw_key)
        return error_body(rejected.code, rejected.message, 400)
    return jsonify(summary.public())


def _error_response(error: Exception) -> Response:
    """The one mapping from error types to HTTP answers; never a stack trace to the caller."""
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


def _start_timer() -> None:
    g.started = time.perf_counter()


def _log_request(response: Response) -> Response:
    started: float = g.get("started", time.perf_counter())
    if request.endpoint == "api.nanonets_webhook":
        _pipeline().services.metrics.webhook_received(webhook_outcome(response.status_code))
    log.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,  # never the query string: it carries the token
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response


def openapi_document() -> dict[str, Any]:
    text = resources.files("service").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document
