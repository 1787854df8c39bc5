"""`POST /webhooks/nanonets`: authenticate, archive, complete."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.web.context import authorized, read_body, service
from service.web.errors import error_body

webhooks = Blueprint("webhooks", __name__)


@webhooks.post("/webhooks/nanonets")
def nanonets_webhook() -> Response:
    if not authorized():
        return error_body("unauthorized", "missing or wrong webhook token", 401)
    body = read_body()
    if not body.strip():
        return error_body("empty_body", "the request has no body", 400)
    result = service().complete.receive_webhook(body)
    response = jsonify(result.model_dump(exclude_none=True))
    response.status_code = 202 if result.deferred else 200
    return response
