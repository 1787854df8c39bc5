"""AWS Lambda entry points: thin. The service is built once per container, on first use, by the bootstrap.
Each handler prints the metrics its invocation recorded (CloudWatch EMF) when it returns or raises.

- http_handler: the Flask app behind API Gateway (HTTP API v2 and REST v1), through apig-wsgi.
- events_handler: S3 notifications direct, via SNS, via SQS (partial batch responses) or EventBridge.
- reconcile_handler: the scheduled reconcile.

Start-up (the imports, the settings, the parts a handler uses, its S3 client) runs with the cyclic garbage
collector paused, and what it built is then frozen out of the collector's way (`_start_up`). Everything
start-up allocates lives as long as the container, so the collections it would trigger (about 170 young
ones and a full one over every module and botocore's service models) find nothing to free: a sixth of
the CPU of a cold start, for nothing. Frozen, the same objects are not walked again by the collections
later invocations make. What start-up leaves as cyclic garbage (about 800 objects) is frozen with it.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from service.core.collector import collector_paused
from service.errors import PayloadRejected
from service.observability.emf import flushes_metrics

if TYPE_CHECKING:
    from datetime import datetime

    from service.bootstrap import Service
    from service.observability import MetricsRecorder
    from service.usecases.intake import Intake
    from service.usecases.recover import Recovery

T = TypeVar("T")

log = logging.getLogger(__name__)


def _start_up(build: Callable[[], T]) -> T:
    """`build()` with the collector paused, then everything alive frozen (see the module's docstring).
    Each entry below runs once per container; nested ones pause once and freeze twice (a freeze is cheap)."""
    with collector_paused():
        built = build()
        gc.freeze()
    return built


@cache
def _service() -> Service:
    return _start_up(_build_service)


def _build_service() -> Service:
    import os

    from service.adapters.ssm import resolve_ssm_secrets
    from service.bootstrap import build, configure_service_logging
    from service.settings import load_settings

    resolve_ssm_secrets(os.environ)  # serverless.yml names SSM parameters, never secret values
    settings = load_settings()
    configure_service_logging(settings)
    return build(settings, metrics="emf")


def _metrics() -> MetricsRecorder:
    return _service().metrics


@cache
def _wsgi_handler() -> Any:
    def build() -> Any:
        from apig_wsgi import make_lambda_handler

        from service.web import create_app

        service = _service()
        return make_lambda_handler(create_app(service.settings, service), binary_support=True)

    return _start_up(build)


@cache
def _intake(service: Service) -> Intake:
    """What an S3 event uses, built at start-up: intake, submit, the S3 client, the Nanonets session, pacing.
    Keyed by the service, so a new one (tests clear `_service`) is started up again."""
    return _start_up(lambda: service.intake)


@cache
def _recovery(service: Service) -> Recovery:
    return _start_up(lambda: service.recovery)


@flushes_metrics(_metrics)
def http_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = _wsgi_handler()(event, context)
    return result


@flushes_metrics(_metrics)
def events_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batches answer `batchItemFailures` with only the messages to retry; a message held back by
    pacing comes back after its wait (ChangeMessageVisibility) instead of burning receives. Other
    transports raise when something should be retried, so Lambda's own retry (and its DLQ) takes over."""
    from service.adapters.sns import confirm_subscription

    service = _service()
    intake = _intake(service)
    is_sqs = _is_sqs_batch(event)
    try:
        summary = intake.handle(event, confirm=confirm_subscription)
    except PayloadRejected as rejected:
        raw_key = service.stores.raw.archive(json.dumps(event).encode()).raw_key
        service.quarantine.put(kind="event", code=rejected.code, reason=rejected.message, raw_key=raw_key)
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
        _delay_messages(event, summary.retry_messages)
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in summary.retry_messages]}
    if any(item.retryable for item in summary.failed):
        raise RuntimeError(f"{len(summary.failed)} object(s) failed; let Lambda retry the event")
    return summary.public()


def _delay_messages(event: dict[str, Any], retry_at: dict[str, datetime | None]) -> None:
    """Each held-back message hidden until its time, counted from now: the batch's other documents took
    a while since its own was decided."""
    from service.adapters.sqs import delay_messages

    service = _service()
    now = service.clock()
    records = {r.get("messageId"): r for r in event.get("Records", []) if isinstance(r, dict)}
    delay_messages(
        [
            (records[mid], max((at - now).total_seconds(), 0.0))
            for mid, at in retry_at.items()
            if at is not None and mid in records
        ],
        endpoint_url=service.settings.sqs_endpoint_url,
    )


@flushes_metrics(_metrics)
def reconcile_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service = _service()
    settings = service.settings
    older_than = int(event.get("older_than_seconds", settings.reconcile_older_than_seconds))
    summary = _recovery(service).reconcile(
        older_than_seconds=older_than, limit=settings.reconcile_batch_limit
    )
    return summary.model_dump()


def _is_sqs_batch(event: dict[str, Any]) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        bool(records)
        and isinstance(records, list)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )
