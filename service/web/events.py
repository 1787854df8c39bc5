"""`POST /events/s3`: S3 notifications (bare, SNS, EventBridge) in, submissions out."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.errors import PayloadRejected
from service.web.context import authorized, read_body, service
from service.web.errors import error_body

events = Blueprint("events", __name__)


@events.post("/events/s3")
def s3_events() -> Response:
    # Imported on first use: a Lambda answering only GET /healthz never loads them (ARCHITECTURE.md).
    from service.adapters.sns import confirm_subscription
    from service.core.payloads import decode_json

    if not authorized():
        return error_body("unauthorized", "missing or wrong webhook token", 401)
    body = read_body()
    built = service()
    try:
        summary = built.intake.handle(decode_json(body), confirm=confirm_subscription)
    except PayloadRejected as rejected:
        # Kept, so nothing is lost: an operator can read it back from the quarantine.
        raw_key = built.stores.raw.archive(body).raw_key
        built.quarantine.put(kind="event", code=rejected.code, reason=rejected.message, raw_key=raw_key)
        return error_body(rejected.code, rejected.message, 400)
    return jsonify(summary.public())
