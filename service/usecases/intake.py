"""Intake: any S3 event envelope in, one submission per eligible object out.

The envelope is unwrapped once (`models.events.unwrap_event`); after that there is one code path whatever
the transport (HTTP POST, S3 → Lambda, SNS, SQS, EventBridge).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

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
from service.ports import RawArchive
from service.usecases.quarantine import Quarantiner
from service.usecases.submit import SubmitDocument

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
    retry_after: float | None = Field(default=None, exclude=True)


class EventSummary(BaseModel):
    submitted: list[SubmittedItem] = Field(default_factory=list)
    skipped: list[SkippedItem] = Field(default_factory=list)
    failed: list[FailedItem] = Field(default_factory=list)
    confirmed: list[str] = Field(default_factory=list)
    # SQS message ids whose objects should come back (Lambda's batchItemFailures), each with when it asked
    # to (None: after the queue's own visibility timeout). Not in HTTP answers.
    retry_messages: dict[str, datetime | None] = Field(default_factory=dict, exclude=True)

    def public(self) -> dict[str, object]:
        return self.model_dump()


class Intake:
    def __init__(
        self,
        submit: SubmitDocument,
        quarantine: Quarantiner,
        raw: RawArchive,
        sns_extra_subscribe_hosts: Sequence[str] = (),
    ) -> None:
        self._submit = submit
        self._quarantine = quarantine
        self._raw = raw
        self._sns_hosts = tuple(sns_extra_subscribe_hosts)

    def handle(self, payload: object, *, confirm: Confirmer) -> EventSummary:
        """Raises PayloadRejected for a payload of no known event shape."""
        summary = EventSummary()
        for item in unwrap_event(payload).items:
            if isinstance(item, ObjectEvent):
                self._submit_one(item, summary)
            elif isinstance(item, SkippedEvent):
                summary.skipped.append(SkippedItem(key=item.key, reason=item.reason))
            elif isinstance(item, SubscriptionConfirmation):
                self._confirm(item, summary, confirm)
            elif isinstance(item, InvalidMessage):
                self._quarantine_invalid(item, summary)
        return summary

    def _submit_one(self, event: ObjectEvent, summary: EventSummary) -> None:
        try:
            outcome = self._submit.submit(event.source, event.size)
        except StorageUnavailable as error:
            summary.failed.append(FailedItem(key=event.key, reason=str(error), retryable=True))
            _retry(summary, event.message_id, None)
            return
        if outcome.status == "submitted" and outcome.request_file_id:
            summary.submitted.append(
                SubmittedItem(bucket=event.bucket, key=event.key, request_file_id=outcome.request_file_id)
            )
        elif outcome.status == "skipped":
            summary.skipped.append(SkippedItem(key=event.key, reason=outcome.reason or "skipped"))
        else:
            summary.failed.append(
                FailedItem(
                    key=event.key,
                    reason=outcome.reason or "failed",
                    retryable=outcome.retryable,
                    retry_after=outcome.retry_after,
                )
            )
            if outcome.retryable:
                _retry(summary, event.message_id, outcome.retry_at)

    def _confirm(self, item: SubscriptionConfirmation, summary: EventSummary, confirm: Confirmer) -> None:
        if not is_aws_sns_subscribe_url(item.subscribe_url, self._sns_hosts):
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
            _retry(summary, item.message_id, None)
            return
        summary.confirmed.append(item.topic_arn or item.subscribe_url)
        log.info("SNS subscription confirmed", extra={"topic_arn": item.topic_arn})

    def _quarantine_invalid(self, item: InvalidMessage, summary: EventSummary) -> None:
        """Not an event at all: retrying would fail forever, so keep it (its own bytes) for a person."""
        raw_key = (
            self._raw.archive(item.raw.encode("utf-8", "surrogatepass")).raw_key
            if item.raw is not None
            else None
        )
        self._quarantine.put(
            kind="event",
            code="invalid_event_message",
            reason=item.reason,
            raw_key=raw_key,
            details={"message_id": item.message_id},
        )
        summary.failed.append(FailedItem(key=None, reason=f"not an S3 event: {item.reason}"))


def _retry(summary: EventSummary, message_id: str | None, at: datetime | None) -> None:
    if not message_id:
        return
    if message_id in summary.retry_messages:
        known = summary.retry_messages[message_id]
        at = None if known is None or at is None else max(known, at)
    summary.retry_messages[message_id] = at
