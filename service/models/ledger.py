"""What the service remembers under STATE_PREFIX: submission claims, the ledger, quarantine records."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.models.document import Review, SourceRef

LedgerStatus = Literal["pending", "done", "failed", "superseded"]
ClaimState = Literal["submitting", "submitted"]
QuarantineKind = Literal["webhook", "event", "submission"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SubmissionClaim(_Record):
    """One per source version (bucket, key, ETag/version). Written with If-None-Match, so exactly one
    worker submits a given version however many events announce it."""

    source: SourceRef
    source_token: str
    state: ClaimState = "submitting"
    request_file_id: str | None = None
    claimed_at: str


class LedgerRecord(_Record):
    """One per Nanonets request_file_id: where it came from and how far it got."""

    request_file_id: str
    model_id: str
    source: SourceRef
    source_token: str
    status: LedgerStatus = "pending"
    submitted_at: str
    updated_at: str
    output_key: str
    review: Review | None = None
    validation_status: Literal["passed", "failed"] | None = None
    # Digest of the last written document without its processed_at: a repeat that would write the same
    # document writes nothing.
    output_digest: str | None = None
    raw_keys: list[str] = Field(default_factory=list)
    reason: str | None = None


class QuarantineRecord(_Record):
    """An input that could not become an output, with why, and where its raw bytes are kept."""

    id: str
    kind: QuarantineKind
    code: str
    reason: str
    received_at: str
    raw_key: str | None = None
    request_file_id: str | None = None
    source: SourceRef | None = None
    details: dict[str, Any] = Field(default_factory=dict)
