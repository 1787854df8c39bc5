"""What a use case reports back, as types: entry points decide on these fields, never on message text."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.models.document import Review

SubmitStatus = Literal["submitted", "skipped", "failed"]
FileOutcomeKind = Literal["written", "unchanged", "superseded", "quarantined", "deferred"]
SETTLED: frozenset[FileOutcomeKind] = frozenset({"written", "unchanged", "superseded"})


class SubmitOutcome(BaseModel):
    status: SubmitStatus
    bucket: str
    key: str | None
    request_file_id: str | None = None
    reason: str | None = None
    retryable: bool = False
    # Skipped because this version was submitted before (by an earlier event, run or worker).
    already_submitted: bool = Field(default=False, exclude=True)
    # Failed only for now (pacing, a 429, a 402 stop): try again after this many seconds, that is at
    # `retry_at`. A caller that answers later (after a whole batch of SQS messages) counts from the time.
    retry_after: float | None = Field(default=None, exclude=True)
    retry_at: datetime | None = Field(default=None, exclude=True)

    @property
    def settled(self) -> bool:
        """Nothing more to do for this version: submitted now or before."""
        return self.status == "submitted" or self.already_submitted


class FileOutcome(BaseModel):
    model_config = ConfigDict(defer_build=True)  # a webhook's: built on first use, not by the S3 event path

    request_file_id: str
    outcome: FileOutcomeKind
    output_key: str | None = None
    review: Review | None = None
    validation: Literal["passed", "failed"] | None = None
    reason: str | None = None

    @property
    def settled(self) -> bool:
        return self.outcome in SETTLED


class WebhookResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    raw_key: str
    files: list[FileOutcome]

    @property
    def deferred(self) -> bool:
        return any(f.outcome == "deferred" for f in self.files)
