"""Intake: any S3 event envelope in, one submission per eligible object out.

The envelope is unwrapped once (`models.events.unwrap_event`); after that there is one code path whatever
the transport (HTTP POST, S3 → Lambda, SNS, SQS, EventBridge).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import requests
from pydantic import BaseModel, Field

from service.errors import StorageUnavailable
from service.models.events import (
    InvalidMessage,
    ObjectEvent,
    SkippedEvent,
    SubscriptionConfirmation,
    is_aws_sns_subscribe_url,
    unwrap_event,
)
from service.pipeline import ObjectRef, Pipeline

log = logging.getLogger(__name__)

Confirmer = Callable[[str], None]


class SubmittedItem(BaseModel):
    bucket: str
    key: str
    request_file_id: str


class SkippedItem(BaseModel):
    key: str | None
    reason: str


class FailedItem(BaseModel):
    key: str | None
    reason: str
    retryable: bool = False


class EventSummary(BaseModel):
    submitted: list[SubmittedItem] = Field(default_factory=list)
    skipped: list[SkippedItem] = Field(default_factory=list)
    failed: list[FailedItem] = Field(default_factory=list)
    confirmed: list[str] = Field(default_factory=list)
    # SQS message ids whose objects should be retried (Lambda's batchItemFailures); not in HTTP answers.
    retry_message_ids: list[str] = Field(default_factory=list, exclude=True)

    def public(self) -> dict[str, object]:
        return self.model_dump(exclude={"retry_message_ids"})


def handle_event_payload(
    pipeline: Pipeline,
    payload: object,
    *,
    confirm: Confirmer,
    raw_key: str | None = None,
) -> EventSummary:
    """Raises PayloadRejected for a payload of no known event shape."""
    summary = EventSummary()
    for item in unwrap_event(payload).items:
        if isinstance(item, ObjectEvent):
            _submit(pipeline, item, summary)
        elif isinstance(item, SkippedEvent):
            summary.skipped.append(SkippedItem(key=item.key, reason=item.reason))
        elif isinstance(item, SubscriptionConfirmation):
            _confirm(pipeline, item, summary, confirm)
        elif isinstance(item, InvalidMessage):
            _quarantine_invalid(pipeline, item, summary, raw_key)
    return summary


def _submit(pipeline: Pipeline, event: ObjectEvent, summary: EventSummary) -> None:
    ref = ObjectRef(
        bucket=event.bucket, key=event.key, size=event.size, etag=event.etag, version_id=event.version_id
    )
    try:
        outcome = pipeline.submit_object(ref)
    except StorageUnavailable as error:
        summary.failed.append(FailedItem(key=event.key, reason=str(error), retryable=True))
        _retry(summary, event.message_id)
        return
    if outcome.status == "submitted" and outcome.request_file_id:
        summary.submitted.append(
            SubmittedItem(bucket=event.bucket, key=event.key, request_file_id=outcome.request_file_id)
        )
    elif outcome.status == "skipped":
        summary.skipped.append(SkippedItem(key=event.key, reason=outcome.reason or "skipped"))
    else:
        summary.failed.append(
            FailedItem(key=event.key, reason=outcome.reason or "failed", retryable=outcome.retryable)
        )
        if outcome.retryable:
            _retry(summary, event.message_id)


def _retry(summary: EventSummary, message_id: str | None) -> None:
    if message_id and message_id not in summary.retry_message_ids:
        summary.retry_message_ids.append(message_id)


def _confirm(
    pipeline: Pipeline, item: SubscriptionConfirmation, summary: EventSummary, confirm: Confirmer
) -> None:
    extra_hosts = pipeline.settings.sns_extra_subscribe_hosts
    if not is_aws_sns_subscribe_url(item.subscribe_url, extra_hosts):
        summary.skipped.append(
            SkippedItem(key=None, reason="SNS SubscribeURL is not an AWS SNS host; not fetched")
        )
        return
    try:
        confirm(item.subscribe_url)
    except requests.RequestException as error:
        summary.failed.append(
            FailedItem(key=None, reason=f"SNS subscription not confirmed: {error}", retryable=True)
        )
        _retry(summary, item.message_id)
        return
    summary.confirmed.append(item.topic_arn or item.subscribe_url)
    log.info("SNS subscription confirmed", extra={"topic_arn": item.topic_arn})


def _quarantine_invalid(
    pipeline: Pipeline, item: InvalidMessage, summary: EventSummary, raw_key: str | None
) -> None:
    """Not an event at all: retrying would fail forever, so keep it for a person instead."""
    pipeline.quarantine(
        kind="event",
        code="invalid_event_message",
        reason=item.reason,
        raw_key=raw_key,
        details={"message_id": item.message_id},
    )
    summary.failed.append(FailedItem(key=None, reason=f"not an S3 event: {item.reason}"))
