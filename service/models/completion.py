"""The completion event (CONTRACT.md, "Additions in 1.1"): one body, the same on every target.

Its `id` is derived from what the event says, never from when it is sent: the request_file_id, the type
and the content digest of the output (everything but processed_at). A redelivery, a repeated webhook or a
second worker announcing the same output produce the same id, so a consumer de-duplicates on it; a real
change (a review, a rules change that alters the document) has a new digest, hence a new id.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.models.document import NormalizedDocument, Review, SourceRef

EventType = Literal[
    "document.completed",
    "document.validation_failed",
    "document.reviewed",
    "document.quarantined",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "document.completed",
    "document.validation_failed",
    "document.reviewed",
    "document.quarantined",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventSource(_Strict):
    bucket: str
    key: str
    etag: str | None = None


class EventOutput(_Strict):
    bucket: str
    key: str


class CompletionEvent(_Strict):
    id: str = Field(pattern=r"^evt_[0-9a-f]{40}$", description="stable: de-duplicate on it")
    type: EventType
    time: str = Field(description="when the change happened (UTC, ISO 8601 with Z)")
    route: str | None = None
    source: EventSource
    output: EventOutput | None = None
    request_file_id: str | None = None
    validation_status: Literal["passed", "failed"] | None = None
    review: Review | None = None

    def body(self) -> bytes:
        """The bytes every target receives (and the HTTPS signature covers): compact JSON."""
        return self.model_dump_json().encode("utf-8")


def event_id(event_type: EventType, request_file_id: str | None, content_digest: str) -> str:
    """`evt_` + 40 hex digits: no '.', as Standard Webhooks asks of a webhook-id."""
    material = f"{request_file_id or ''}\n{event_type}\n{content_digest}".encode()
    return "evt_" + hashlib.sha256(material).hexdigest()[:40]


def completion_type(document: NormalizedDocument, previous_review: Review | None) -> EventType:
    """What a newly written output means to a consumer: a person's verdict (approved or rejected in
    Nanonets) that changed is a review; otherwise the document is complete, with or without issues."""
    if document.review in ("approved", "rejected") and document.review != previous_review:
        return "document.reviewed"
    if document.validation.status == "failed":
        return "document.validation_failed"
    return "document.completed"


def document_event(
    document: NormalizedDocument,
    *,
    event_type: EventType,
    content_digest: str,
    output: EventOutput,
    route: str | None,
) -> CompletionEvent:
    """The event for an output just written (completed, validation_failed or reviewed)."""
    file_id = document.nanonets.request_file_id
    return CompletionEvent(
        id=event_id(event_type, file_id, content_digest),
        type=event_type,
        time=document.processed_at,
        route=route,
        source=_source(document.source),
        output=output,
        request_file_id=file_id,
        validation_status=document.validation.status,
        review=document.review,
    )


def quarantine_event(
    *,
    source: SourceRef,
    quarantine_id: str,
    time: str,
    route: str | None,
    request_file_id: str | None = None,
) -> CompletionEvent:
    """A document that will not get an output without help (refused by Nanonets, pending too long).
    The quarantine record's id stands for the content digest: quarantining the same thing twice is
    one event."""
    return CompletionEvent(
        id=event_id("document.quarantined", request_file_id, quarantine_id),
        type="document.quarantined",
        time=time,
        route=route,
        source=_source(source),
        request_file_id=request_file_id,
    )


def _source(source: SourceRef) -> EventSource:
    return EventSource(bucket=source.bucket, key=source.key, etag=source.etag)
