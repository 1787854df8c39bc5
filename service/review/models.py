"""What the review console remembers under STATE_PREFIX: overrides, audit records, attention entries.

review/<request_file_id>.json                       the reviewer's decisions (Overrides)
review/audit/<request_file_id>/<time>-<nonce>.json  one immutable record per action (AuditRecord)
review/pages/<request_file_id>/<page>               rendered page images (a cache)
review/login-failures/<hash>.json                   failed-login counters (the login rate limit)
index/attention/<facet>/<since>--<request_file_id>  empty markers: the queue (see attention.py)
index/attention-items/<request_file_id>.json        what the queue shows of a document (AttentionEntry)
index/review-push/<request_file_id>                 empty markers: pushes to Nanonets still to retry
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.models.document import IssueCode, Normalized
from service.models.source import SourceRef

AttentionReason = Literal[
    "validation_failed", "low_confidence", "pending_too_long", "quarantined", "rejected"
]
ATTENTION_REASONS: tuple[AttentionReason, ...] = (
    "validation_failed",
    "low_confidence",
    "pending_too_long",
    "quarantined",
    "rejected",
)
Decision = Literal["approved", "rejected"]
AuditAction = Literal["edit", "approve", "reject", "push", "push_failed"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FieldOverride(_Record):
    """A value a reviewer typed for a field; it wins over whatever a later webhook says. `model_value` is
    what the model had read when the field was first edited (None: it read nothing), so `predicted` stays
    right however often the field is edited again."""

    value: str
    by: str
    at: str
    model_value: str | None = None


class DecisionOverride(_Record):
    review: Decision
    reason: str | None = None
    by: str
    at: str


class PendingPush(_Record):
    """What still has to reach Nanonets after a failed push: corrected fields and/or the approval."""

    fields: dict[str, str] = Field(default_factory=dict)
    approve: bool = False
    attempts: int = 0
    last_error: str | None = None
    last_attempt_at: str | None = None


class Overrides(_Record):
    """Every decision the console made about one request_file_id. Written with If-Match, read back by
    whoever writes the output, so a late webhook never undoes a console edit."""

    request_file_id: str
    fields: dict[str, FieldOverride] = Field(default_factory=dict)
    decision: DecisionOverride | None = None
    pending_push: PendingPush | None = None

    @property
    def is_empty(self) -> bool:
        return not self.fields and self.decision is None


class AuditRecord(_Record):
    """Who did what, when: one object per action, never rewritten."""

    request_file_id: str
    action: AuditAction
    by: str
    at: str
    field: str | None = None
    before: Normalized | str = None
    after: Normalized | str = None
    reason: str | None = None
    output_key: str | None = None
    output_etag: str | None = None
    validation: Literal["passed", "failed"] | None = None
    review: str | None = None


class AttentionEntry(_Record):
    """What the queue shows of one document, so a page of the queue needs no read of any output."""

    request_file_id: str
    since: str  # sortable UTC time the document started needing a person (never moves while it does)
    reasons: list[AttentionReason]
    codes: list[IssueCode] = Field(default_factory=list)
    facets: list[str] = Field(default_factory=list)
    source: SourceRef | None = None
    output_key: str | None = None
    route: str | None = None
    detail: str | None = None  # e.g. the quarantine reason
