"""The ports: what the use cases need from the world, as Protocols.

Use cases import these, never an adapter. The S3 adapters (`service.adapters.s3`) implement the state ports
over one `ObjectStore`; `tests/fakes.py` has an in-memory `ObjectStore` that honours the same conditional
writes, so unit tests run the real repositories without a server (tests/contract keeps the two honest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

if TYPE_CHECKING:
    # Annotations only: importing this module must not build the models (Lambda cold start; ARCHITECTURE.md)
    from service.core.pacing import PaceDecision
    from service.models.completion import CompletionEvent
    from service.models.document import NormalizedDocument
    from service.models.ledger import (
        IndexedStatus,
        LedgerRecord,
        LedgerStatus,
        QuarantineRecord,
        SubmissionClaim,
    )
    from service.models.source import SourceRef, StoredSource

# ---- the one low-level storage port ----


JSON_CONTENT_TYPE = "application/json"
EMPTY_METADATA: Mapping[str, str] = MappingProxyType({})

# The values the ports hand over are NamedTuples, not frozen dataclasses: every Lambda cold start imports
# this module, and a dataclass costs about ten times a NamedTuple to define (~1 ms against ~0.1 ms).


class StoredObject(NamedTuple):
    body: bytes
    etag: str
    # What the writer said of the bytes: state and outputs are JSON; the review console's cached page
    # images are PNG/JPEG with their size in `metadata` (S3 user metadata, lower-case names).
    content_type: str = JSON_CONTENT_TYPE
    metadata: Mapping[str, str] = EMPTY_METADATA


class ListedObject(NamedTuple):
    key: str
    last_modified: datetime
    size: int


class ObjectStore(Protocol):
    """Buckets of keyed bytes with S3's conditional writes. Every failure that means "not reachable right
    now" is raised as `StorageUnavailable`."""

    def get(self, bucket: str, key: str) -> StoredObject | None: ...

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        content_type: str = JSON_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """The new ETag, or None when the condition failed (someone else wrote first)."""
        ...

    def delete(self, bucket: str, key: str) -> None: ...

    def list(
        self, bucket: str, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[ListedObject]: ...

    def head(self, bucket: str, key: str, version_id: str | None = None) -> StoredSource | None: ...

    def presign_get(self, source: SourceRef, ttl_seconds: int) -> str: ...

    def ping(self, bucket: str) -> None: ...


# ---- the state repositories the use cases speak to ----


class ClaimMarker(NamedTuple):
    """A submission under way (index/submitting/): reconcile finds claims whose worker died through these."""

    name: str
    claim: SubmissionClaim | None


class Claims(Protocol):
    def create(self, claim: SubmissionClaim) -> bool: ...

    def read(self, source: SourceRef) -> tuple[SubmissionClaim, str] | None: ...

    def replace(self, claim: SubmissionClaim, *, if_match: str | None = None) -> bool: ...

    def delete(self, source: SourceRef) -> None: ...

    def mark_submitting(self, source: SourceRef) -> None: ...

    def clear_submitting(self, source: SourceRef) -> None: ...

    def unfinished(self, limit: int | None = None) -> Iterator[ClaimMarker]: ...

    def drop_marker(self, marker: ClaimMarker) -> None: ...


class IndexEntry(NamedTuple):
    request_file_id: str
    marked_at: datetime


class Ledger(Protocol):
    def get(self, request_file_id: str) -> LedgerRecord | None: ...

    def put(self, record: LedgerRecord, *, previous_status: LedgerStatus | None = None) -> None: ...

    def entries(self, status: IndexedStatus, limit: int | None = None) -> Iterator[IndexEntry]: ...

    def records(self) -> int: ...


class RawEntry(NamedTuple):
    raw_key: str
    stored_at: datetime


class ArchivedBody(NamedTuple):
    raw_key: str
    # These exact bytes were archived before: a redelivery (the archive's conditional write told us, free).
    seen_before: bool


class RawArchive(Protocol):
    def archive(self, body: bytes) -> ArchivedBody: ...

    def get(self, raw_key: str) -> bytes | None: ...

    def entries(self) -> Iterator[RawEntry]: ...

    def note_webhook(self, at: datetime) -> None: ...

    def last_webhook(self) -> datetime | None: ...


class Outputs(Protocol):
    def read(self, key: str) -> StoredObject | None: ...

    def write(self, key: str, body: bytes, *, if_match: str | None = None) -> bool: ...


class Quarantine(Protocol):
    def put(self, record: QuarantineRecord) -> None: ...

    def get(self, quarantine_id: str) -> QuarantineRecord | None: ...

    def delete(self, quarantine_id: str) -> None: ...

    def ids(self, limit: int | None = None) -> Iterator[str]: ...


class Sources(Protocol):
    def head(self, source: SourceRef) -> StoredSource | None: ...

    def presign(self, source: SourceRef, ttl_seconds: int) -> str: ...

    def listing(self, bucket: str, prefix: str) -> Iterator[StoredSource]: ...


class StateStores(NamedTuple):
    """Every repository of the service's own state, built once by the bootstrap."""

    claims: Claims
    ledger: Ledger
    raw: RawArchive
    outputs: Outputs
    quarantine: Quarantine
    sources: Sources


# ---- Nanonets ----


class Ocr(Protocol):
    """What the use cases ask of Nanonets. `model_id` is the route's model (None: the configured one)."""

    def submit_url_async(
        self, url: str, request_metadata: Mapping[str, Any], model_id: str | None = None
    ) -> str: ...

    def fetch_file(self, request_file_id: str, model_id: str | None = None) -> dict[str, Any]: ...

    def approve(self, request_file_id: str, model_id: str | None = None) -> dict[str, Any]: ...

    def update_fields(self, request_file_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
        """Send a person's corrected values (the review console's push), so the model learns."""
        ...


Clock = Callable[[], datetime]


class PacingSnapshot(NamedTuple):
    """What `status` shows of the pacing of one model."""

    model_id: str
    pages_per_minute: int
    backlog: int
    cooldown_seconds_left: float
    quota_stopped_since: datetime | None
    quota_probe_seconds_left: float


class Pacer(Protocol):
    """Pages per minute per model, shared by every worker and Lambda instance."""

    def acquire(self, model_id: str, ticket: str, pages: int = 1) -> PaceDecision: ...

    def rate_limited(self, model_id: str, retry_after: float | None) -> None: ...

    def quota_exceeded(self, model_id: str) -> None: ...

    def accepted(self, model_id: str) -> None: ...

    def snapshot(self, model_id: str) -> PacingSnapshot: ...


# ---- the review console (service/review), as completion, quarantine and reconcile see it ----


class ReviewDecisions(Protocol):
    """What people decided in the review console (edited values, approve/reject), laid over every document
    the service writes, so a late or repeated webhook never undoes them. Applied whether or not the
    console is served: turning it off must not let old edits be overwritten."""

    def apply(self, record: LedgerRecord, document: NormalizedDocument) -> NormalizedDocument:
        """`document` (of `record`) with the console's decisions on top, validated by the record's route."""
        ...


class AttentionQueue(Protocol):
    """The documents that need a person (the console's queue); does nothing while the console is off."""

    def document_written(self, record: LedgerRecord, document: NormalizedDocument) -> None:
        """In the queue or out of it, by what the document just written says."""
        ...

    def superseded(self, record: LedgerRecord) -> None:
        """Newer content of the source has its own submission: this one needs nobody any more."""
        ...

    def quarantined(self, quarantined: QuarantineRecord) -> None:
        """A submission of ours that could not become an output (pending too long, unknown to Nanonets)."""
        ...


class PushRetries(NamedTuple):
    sent: int = 0
    failed: int = 0


class ReviewPushes(Protocol):
    """Console corrections and approvals that Nanonets did not take yet (REVIEW_PUSH_TO_NANONETS)."""

    def retry_pending(self, limit: int) -> PushRetries: ...


# ---- metrics ----

# Every document goes the one route until routes (ROUTES_FILE) land; metrics and log lines name it already.
DEFAULT_ROUTE = "default"


class Metrics(Protocol):
    """What the use cases report, in their words. Which system publishes it (Prometheus under gunicorn,
    CloudWatch EMF on Lambda, nothing for the CLI) is the adapter's business (`service.observability`).
    Reporting never fails a document: an implementation keeps its own errors."""

    def document_submitted(self, *, route: str = DEFAULT_ROUTE) -> None: ...

    def document_completed(self, validation: str, review: str, *, route: str = DEFAULT_ROUTE) -> None:
        """The first output of a submission was written (a later review change writes again, uncounted)."""
        ...

    def submission_to_output_seconds(self, seconds: float, *, route: str = DEFAULT_ROUTE) -> None: ...

    def document_superseded(self, *, route: str = DEFAULT_ROUTE) -> None: ...

    def document_quarantined(self, reason: str, *, route: str = DEFAULT_ROUTE) -> None: ...

    def pacing_wait(self, seconds: float, hold: str, *, route: str = DEFAULT_ROUTE) -> None:
        """A document was held back for `seconds` by `hold` (`rate`, `cooldown` after a 429, `quota` 402)."""
        ...

    def quota_stopped(self, stopped: bool, *, route: str = DEFAULT_ROUTE) -> None:
        """Whether submissions are stopped by a 402 (as `status` says), as seen just now."""
        ...

    def pending(
        self, count: int, oldest_age_seconds: float | None, *, route: str = DEFAULT_ROUTE
    ) -> None: ...

    def pacing(self, snapshot: PacingSnapshot, *, route: str = DEFAULT_ROUTE) -> None:
        """The pacing figures `status` shows: backlog, 429 pause left, 402 stop."""
        ...


# ---- what goes downstream of the outputs: completion events and the analytics dataset ----

Delivery = Literal["delivered", "parked"]


class OutboxRun(NamedTuple):
    """What one delivery run of parked events did."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    unreadable: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "retrying": self.retrying,
            "dead": self.dead,
            "unreadable": self.unreadable,
        }


class Outbox(Protocol):
    """Completion events to EVENTS_TARGET, at least once, never holding up a document."""

    @property
    def target(self) -> str: ...

    def publish_or_park(self, event: CompletionEvent) -> Delivery:
        """One quick attempt; a failed one is parked for `deliver_parked`. Raises only StorageUnavailable
        (the parking itself failed), which the caller's own retry covers."""
        ...

    def deliver_parked(self, limit: int = 500) -> OutboxRun: ...


@dataclass
class ExportSummary:
    """What a read of the dataset went through (filled in as the rows are read)."""

    documents: int = 0
    rows: int = 0
    partitions: int = 0


class AnalyticsDataset(Protocol):
    """The flat dataset for analysts (core/analytics.py): one rows object per document, rewritten with
    its output; documents whose rows could not be written are remembered until reconcile writes them."""

    def write(self, document: NormalizedDocument, route: str, day: date | None = None) -> str: ...

    def mark_behind(self, request_file_id: str) -> None: ...

    def behind(self, limit: int | None = None) -> Iterator[str]: ...

    def caught_up(self, request_file_id: str) -> None: ...

    def rows(
        self, *, since: date | None = None, route: str | None = None, summary: ExportSummary | None = None
    ) -> Iterator[dict[str, Any]]: ...
