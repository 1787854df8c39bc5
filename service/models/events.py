"""S3 event records and the envelopes they travel in: direct, SNS (HTTP and Lambda), SQS, EventBridge.

In the style of Powertools' parser envelopes: an outer envelope unwraps to inner S3 records, and after
`unwrap_event` there is one code path whatever the transport. Keys in S3 notification records are
URL-encoded the way S3 encodes them (`+` is a space, `%2B` a plus); EventBridge keys arrive plain and are
left as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.errors import PayloadRejected
from service.models.source import SourceRef

MAX_ENVELOPE_DEPTH = 3  # S3 in SNS in SQS is the deepest real nesting


class _Lenient(BaseModel):
    # defer_build: validators built on first use; an SQS batch of S3 records never builds EventBridge's.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class S3Bucket(_Lenient):
    name: str


class S3Object(_Lenient):
    key: str
    size: int | None = None
    e_tag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")
    sequencer: str | None = None


class S3Entity(_Lenient):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Lenient):
    event_source: str | None = Field(default=None, alias="eventSource")
    event_name: str = Field(alias="eventName")
    event_time: str | None = Field(default=None, alias="eventTime")
    aws_region: str | None = Field(default=None, alias="awsRegion")
    s3: S3Entity


class EventBridgeObject(_Lenient):
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class EventBridgeDetail(_Lenient):
    bucket: S3Bucket
    object: EventBridgeObject


# ---- what unwrapping yields ----


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str | None
    event_name: str
    message_id: str | None = None

    @property
    def source(self) -> SourceRef:
        return SourceRef(bucket=self.bucket, key=self.key, etag=self.etag, version_id=self.version_id)


@dataclass(frozen=True)
class SkippedEvent:
    key: str | None
    reason: str
    message_id: str | None = None


@dataclass(frozen=True)
class SubscriptionConfirmation:
    topic_arn: str | None
    subscribe_url: str
    token: str | None
    message_id: str | None = None


@dataclass(frozen=True)
class InvalidMessage:
    message_id: str | None
    reason: str
    # The message's own bytes (an SQS body, an SNS Message, a record), kept so `quarantine retry` can act.
    raw: str | None = None


Item = ObjectEvent | SkippedEvent | SubscriptionConfirmation | InvalidMessage


@dataclass
class UnwrappedEvent:
    items: list[Item] = field(default_factory=list)


def unwrap_event(payload: object) -> UnwrappedEvent:
    """Every object event, skip, confirmation and invalid message in the payload, in order.

    A top-level payload of no known shape raises PayloadRejected("unknown_event_shape", ...).
    """
    result = UnwrappedEvent()
    if not _unwrap_into(payload, result, message_id=None, depth=0):
        raise PayloadRejected(
            "unknown_event_shape",
            "not an S3 notification, SNS envelope, SQS batch or EventBridge event",
        )
    return result


def _unwrap_into(payload: object, out: UnwrappedEvent, *, message_id: str | None, depth: int) -> bool:
    """False when the payload is of no known shape (the caller decides what that means)."""
    if not isinstance(payload, dict) or depth > MAX_ENVELOPE_DEPTH:
        return False
    if payload.get("Event") == "s3:TestEvent":
        out.items.append(SkippedEvent(key=None, reason="s3:TestEvent", message_id=message_id))
        return True
    if payload.get("Type") in ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return _unwrap_sns_http(payload, out, message_id=message_id, depth=depth)
    if payload.get("source") == "aws.s3" and "detail-type" in payload:
        return _unwrap_eventbridge(payload, out, message_id=message_id)
    records = payload.get("Records")
    if isinstance(records, list):
        return _unwrap_records(records, out, message_id=message_id, depth=depth)
    return False


def _unwrap_records(records: list[Any], out: UnwrappedEvent, *, message_id: str | None, depth: int) -> bool:
    for record in records:
        if not isinstance(record, dict):
            out.items.append(InvalidMessage(message_id, "a record that is not an object"))
            continue
        if record.get("eventSource") == "aws:sqs":
            _unwrap_sqs_message(record, out, depth=depth)
        elif record.get("EventSource") == "aws:sns" and isinstance(record.get("Sns"), dict):
            sns_id = message_id or record["Sns"].get("MessageId")
            if not _unwrap_sns_http(record["Sns"], out, message_id=sns_id, depth=depth):
                out.items.append(InvalidMessage(sns_id, "SNS record of no known type"))
        elif "s3" in record:
            out.items.append(_s3_record_item(record, message_id))
        else:
            out.items.append(InvalidMessage(message_id, "a record that is neither S3, SNS nor SQS"))
    return True


def _unwrap_sqs_message(record: dict[str, Any], out: UnwrappedEvent, *, depth: int) -> None:
    message_id = str(record.get("messageId") or "") or None
    body = record.get("body")
    inner = _loads(body) if isinstance(body, str) else None
    if inner is None:
        raw = body if isinstance(body, str) else json.dumps(body)
        out.items.append(InvalidMessage(message_id, "SQS message body is not JSON", raw))
        return
    if not _unwrap_into(inner, out, message_id=message_id, depth=depth + 1):
        out.items.append(InvalidMessage(message_id, "SQS message body is not an S3 event", body))


def _unwrap_sns_http(sns: dict[str, Any], out: UnwrappedEvent, *, message_id: str | None, depth: int) -> bool:
    kind = sns.get("Type")
    own_id = message_id or (str(sns["MessageId"]) if sns.get("MessageId") else None)
    if kind == "SubscriptionConfirmation":
        url = sns.get("SubscribeURL")
        if not isinstance(url, str):
            out.items.append(InvalidMessage(own_id, "SubscriptionConfirmation without a SubscribeURL"))
            return True
        topic, token = sns.get("TopicArn"), sns.get("Token")
        out.items.append(
            SubscriptionConfirmation(
                topic_arn=topic if isinstance(topic, str) else None,
                subscribe_url=url,
                token=token if isinstance(token, str) else None,
                message_id=own_id,
            )
        )
        return True
    if kind == "UnsubscribeConfirmation":
        out.items.append(SkippedEvent(key=None, reason="SNS UnsubscribeConfirmation", message_id=own_id))
        return True
    if kind != "Notification":
        return False
    message = sns.get("Message")
    inner = _loads(message) if isinstance(message, str) else None
    if inner is None or not _unwrap_into(inner, out, message_id=own_id, depth=depth + 1):
        raw = message if isinstance(message, str) else json.dumps(sns)
        out.items.append(InvalidMessage(own_id, "SNS Message is not an S3 event", raw))
    return True


def _unwrap_eventbridge(payload: dict[str, Any], out: UnwrappedEvent, *, message_id: str | None) -> bool:
    detail_type = str(payload.get("detail-type"))
    try:
        detail = EventBridgeDetail.model_validate(payload.get("detail"))
    except ValidationError:
        out.items.append(InvalidMessage(message_id, f"EventBridge {detail_type!r} without bucket and key"))
        return True
    if detail_type != "Object Created":
        out.items.append(
            SkippedEvent(key=detail.object.key, reason=f"EventBridge {detail_type}", message_id=message_id)
        )
        return True
    obj = detail.object
    out.items.append(
        ObjectEvent(
            bucket=detail.bucket.name,
            key=obj.key,  # EventBridge keys are not URL-encoded
            size=obj.size,
            etag=_strip_quotes(obj.etag),
            version_id=obj.version_id,
            sequencer=obj.sequencer,
            event_name="Object Created",
            message_id=message_id,
        )
    )
    return True


def _s3_record_item(record: dict[str, Any], message_id: str | None) -> Item:
    try:
        parsed = S3Record.model_validate(record)
    except ValidationError as error:
        return InvalidMessage(message_id, f"S3 record without {_first_missing(error)}")
    key = unquote_plus(parsed.s3.object.key)
    if not parsed.event_name.startswith("ObjectCreated:"):
        return SkippedEvent(
            key=key, reason=f"not an ObjectCreated event: {parsed.event_name}", message_id=message_id
        )
    obj = parsed.s3.object
    return ObjectEvent(
        bucket=parsed.s3.bucket.name,
        key=key,
        size=obj.size,
        etag=_strip_quotes(obj.e_tag),
        version_id=obj.version_id,
        sequencer=obj.sequencer,
        event_name=parsed.event_name,
        message_id=message_id,
    )


def _first_missing(error: ValidationError) -> str:
    first = error.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "required fields"


def _strip_quotes(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def _loads(text: str) -> object | None:
    try:
        loaded: object = json.loads(text)
        return loaded
    except (ValueError, RecursionError):
        return None


_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def is_aws_sns_subscribe_url(url: str, extra_hosts: Sequence[str] = ()) -> bool:
    """Only an https URL on an AWS SNS host (or a configured extra host, for tests) may be fetched: the
    SubscribeURL comes from the request body, and fetching it blindly would be a server-side request
    forgery."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return False
    netloc = parts.netloc.lower()
    if netloc in {h.lower() for h in extra_hosts}:
        return parts.scheme in ("http", "https")
    return parts.scheme == "https" and port in (None, 443) and bool(_SNS_HOST.match(parts.hostname))
