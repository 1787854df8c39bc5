"""`GET /metrics` (Prometheus text format) and the count of webhook answers by outcome.

With METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>` (compared in constant time);
unset, the endpoint is open on the service's own port. Before answering, the gauges `status` also shows
(pending count, oldest pending age, pacing) are taken afresh, so they say what is true now, not at the
last reconcile. On Lambda the metrics go to CloudWatch (EMF) and this route answers 404.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, request

from service.web.context import digest, service
from service.web.errors import error_body

log = logging.getLogger(__name__)

TOKEN_DIGEST = "nanonets_ingest.metrics_token_digest"  # noqa: S105 - an extension name, not a secret
WEBHOOK_ENDPOINT = "webhooks.nanonets_webhook"

metrics = Blueprint("metrics", __name__)

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


def count_webhook_answer(response: Response) -> Response:
    """after_request: every answer of the webhook endpoint, errors included, by outcome."""
    if request.endpoint == WEBHOOK_ENDPOINT:
        service().metrics.webhook_received(webhook_outcome(response.status_code))
    return response


@metrics.get("/metrics")
def scrape() -> Response:
    expected: bytes | None = current_app.extensions.get(TOKEN_DIGEST)
    if expected is not None and not _bearer_matches(expected):
        response = error_body("unauthorized", "missing or wrong bearer token (METRICS_TOKEN)", 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    built = service()
    if built.metrics.exposition() is None:
        return error_body("not_found", "this deployment publishes its metrics to CloudWatch", 404)
    try:
        built.publish_gauges()
    except Exception as error:  # storage trouble: the counters are still worth serving
        log.warning("gauges not refreshed before a scrape", extra={"error": type(error).__name__})
    exposition = built.metrics.exposition()
    assert exposition is not None
    return Response(exposition.body, content_type=exposition.content_type)


def _bearer_matches(expected: bytes) -> bool:
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    supplied = supplied.strip() if scheme.lower() == "bearer" else ""
    return hmac.compare_digest(digest(supplied), expected)
