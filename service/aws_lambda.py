"""AWS Lambda entry points. Heavy parts are built once per container, on first use, from Settings.

- http_handler: the Flask app behind API Gateway (HTTP API v2 and REST v1), through apig-wsgi.
- events_handler: S3 notifications direct, via SNS, via SQS (partial batch responses) or EventBridge.
- reconcile_handler: the scheduled reconcile.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from service.errors import PayloadRejected
from service.observability.emf import flushes_metrics

log = logging.getLogger(__name__)


@cache
def _pipeline() -> Any:
    import os

    from service.adapters.ssm import resolve_ssm_secrets
    from service.logs import configure_logging
    from service.observability import Metrics
    from service.observability.emf import EmfSink
    from service.pipeline import Pipeline, Services
    from service.settings import load_settings

    resolve_ssm_secrets(os.environ)  # serverless.yml names SSM parameters, never secret values
    settings = load_settings()
    secrets = [settings.nanonets_api_key.get_secret_value()]
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    configure_logging(settings.log_level, secrets=secrets)
    return Pipeline(Services.from_settings(settings, metrics=Metrics(EmfSink())))


def _metrics() -> Any:
    return _pipeline().services.metrics


@cache
def _wsgi_handler() -> Any:
    from apig_wsgi import make_lambda_handler

    from service.web import create_app

    pipeline = _pipeline()
    app = create_app(pipeline.settings, pipeline.services)
    return make_lambda_handler(app, binary_support=True)


@flushes_metrics(_metrics)
def http_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = _wsgi_handler()(event, context)
    return result


@flushes_metrics(_metrics)
def events_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batches answer `batchItemFailures` with only the messages to retry. Other transports raise
    when something should be retried, so Lambda's own retry (and its DLQ) takes over."""
    from service.adapters.sns import confirm_subscription
    from service.intake import handle_event_payload

    pipeline = _pipeline()
    is_sqs = _is_sqs_batch(event)
    try:
        summary = handle_event_payload(pipeline, event, confirm=confirm_subscription)
    except PayloadRejected as rejected:
        raw_key = pipeline.storage.archive_raw(json.dumps(event).encode())
        pipeline.quarantine(kind="event", code=rejected.code, reason=rejected.message, raw_key=raw_key)
        log.error("event of no known shape quarantined", extra={"raw_key": raw_key})
        return {"batchItemFailures": []} if is_sqs else {"rejected": rejected.message}
    log.info(
        "events handled",
        extra={
            "submitted": len(summary.submitted),
            "skipped": len(summary.skipped),
            "failed": len(summary.failed),
        },
    )
    if is_sqs:
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in summary.retry_message_ids]}
    if any(item.retryable for item in summary.failed):
        raise RuntimeError(f"{len(summary.failed)} object(s) failed; let Lambda retry the event")
    return summary.public()


@flushes_metrics(_metrics)
def reconcile_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from service.operations import reconcile

    pipeline = _pipeline()
    settings = pipeline.settings
    older_than = int(event.get("older_than_seconds", settings.reconcile_older_than_seconds))
    summary = reconcile(pipeline, older_than_seconds=older_than, limit=settings.reconcile_batch_limit)
    return summary.model_dump()


def _is_sqs_batch(event: dict[str, Any]) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        bool(records)
        and isinstance(records, list)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )
