"""What the service remembers under STATE_PREFIX: submission claims, the ledger, quarantine records.

Times are aware UTC datetimes; pydantic writes them as ISO 8601 (`2026-01-01T00:00:00Z`) and reads back both
that and the older `+00:00` form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.models.document import Review
from service.models.source import SourceRef

LedgerStatus = Literal["pending", "done", "failed", "superseded"]
LEDGER_STATUSES: tuple[LedgerStatus, ...] = ("pending", "done", "failed", "superseded")
# The statuses listed by an index (ledger adapters): "done" is counted, never listed.
IndexedStatus = Literal["pending", "failed", "superseded"]
INDEXED_STATUSES: tuple[IndexedStatus, ...] = ("pending", "failed", "superseded")
ClaimState = Literal["submitting", "submitted"]
QuarantineKind = Literal["webhook", "event", "submission"]


class _Record(BaseModel):
    # defer_build: validators built on first use; an S3 event never builds the quarantine record's.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class SubmissionClaim(_Record):
    """One per source version (bucket, key, ETag/version). Written with If-None-Match, so exactly one
    worker submits a given version however many events announce it."""

    source: SourceRef
    state: ClaimState = "submitting"
    request_file_id: str | None = None
    claimed_at: AwareDatetime

    @property
    def source_token(self) -> str:
        return self.source.token


class LedgerRecord(_Record):
    """One per Nanonets request_file_id: where it came from and how far it got."""

    request_file_id: str
    model_id: str
    # The route (routes file) the source was submitted by: its rules validate the result.
    route: str = "default"
    source: SourceRef
    status: LedgerStatus = "pending"
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    output_key: str
    review: Review | None = None
    validation_status: Literal["passed", "failed"] | None = None
    # Digest of the last written document without its processed_at: a repeat that would write the same
    # document writes nothing.
    output_digest: str | None = None
    # Digest of the last document normalized from a prediction, before the console's edits and the
    # auto-approval: a repeated webhook is recognised from it without reading anything else.
    normalized_digest: str | None = None
    # The analytics partition (dt=) of the source's rows: the day of its first submission, or that of the
    # older version whose output it replaced (None in records of 1.0: the partition marker says).
    analytics_day: date | None = None
    raw_keys: list[str] = Field(default_factory=list)
    reason: str | None = None

    @property
    def source_token(self) -> str:
        return self.source.token


class QuarantineRecord(_Record):
    """An input that could not become an output, with why, and where its raw bytes are kept."""

    id: str
    kind: QuarantineKind
    code: str
    reason: str
    received_at: AwareDatetime
    raw_key: str | None = None
    request_file_id: str | None = None
    source: SourceRef | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def utc_iso(moment: datetime) -> str:
    """`2026-01-01T00:00:00Z`: the one text form of a time in our files and answers."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
