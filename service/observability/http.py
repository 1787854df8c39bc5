"""`GET /metrics` (Prometheus text format) and the webhook outcome names.

With METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>` (compared in constant time);
unset, the endpoint is open on the service's own port. Before answering, the pending figures are taken
afresh (`refresh`), so the pending gauges say what is true now, not at the last reconcile.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import SecretStr

from service.observability.metrics import Metrics

log = logging.getLogger(__name__)

EXTENSION = "nanonets_ingest.metrics_endpoint"

metrics_api = Blueprint("metrics", __name__)

# HTTP status of a webhook answer → its outcome (the contract fixes which status means what).
WEBHOOK_OUTCOMES = {
    200: "processed",
    202: "deferred",
    400: "bad_request",
    401: "unauthorized",
    413: "too_large",
    422: "unknown_shape",
    503: "unavailable",
}


def webhook_outcome(status_code: int) -> str:
    return WEBHOOK_OUTCOMES.get(status_code, "error")


@dataclass(frozen=True)
class MetricsEndpoint:
    metrics: Metrics
    token_digest: bytes | None
    refresh: Callable[[], object] | None


def install_metrics_endpoint(
    app: Flask,
    metrics: Metrics,
    token: SecretStr | None,
    refresh: Callable[[], object] | None = None,
) -> None:
    digest = _digest(token.get_secret_value()) if token is not None else None
    app.extensions[EXTENSION] = MetricsEndpoint(metrics=metrics, token_digest=digest, refresh=refresh)
    app.register_blueprint(metrics_api)


@metrics_api.get("/metrics")
def scrape() -> Response:
    endpoint: MetricsEndpoint = current_app.extensions[EXTENSION]
    if endpoint.token_digest is not None and not _bearer_matches(endpoint.token_digest):
        return _error("unauthorized", "missing or wrong bearer token (METRICS_TOKEN)", 401)
    if endpoint.metrics.exposition() is None:
        return _error("not_found", "this deployment publishes its metrics to CloudWatch", 404)
    if endpoint.refresh is not None:
        try:
            endpoint.refresh()
        except Exception as error:  # storage trouble: the counters are still worth serving
            log.warning("pending figures not refreshed", extra={"error": type(error).__name__})
    exposition = endpoint.metrics.exposition()
    assert exposition is not None
    return Response(exposition.body, content_type=exposition.content_type)


def _bearer_matches(expected: bytes) -> bool:
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    supplied = supplied.strip() if scheme.lower() == "bearer" else ""
    return hmac.compare_digest(_digest(supplied), expected)


def _digest(value: str) -> bytes:
    # Fixed-length digests: neither the token's content nor its length leaks through timing.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def _error(code: str, detail: str, status: int) -> Response:
    response = jsonify({"error": code, "detail": detail})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response
