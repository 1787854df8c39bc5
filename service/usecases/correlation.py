"""The ids every log line about one document carries, set once per use case (service.logs.log_context)
rather than passed by hand to each call: source key, version token, request_file_id, route."""

from __future__ import annotations

from contextlib import AbstractContextManager

from service.logs import log_context
from service.models.ledger import LedgerRecord
from service.models.source import SourceRef
from service.ports import DEFAULT_ROUTE


def source_context(
    source: SourceRef, *, route: str = DEFAULT_ROUTE, **more: object
) -> AbstractContextManager[None]:
    return log_context(bucket=source.bucket, key=source.key, version_token=source.token, route=route, **more)


def record_context(record: LedgerRecord) -> AbstractContextManager[None]:
    """A submission on record: its source, its file id, and when it was submitted (for elapsed times)."""
    return source_context(
        record.source,
        route=record.route,
        request_file_id=record.request_file_id,
        submitted_at=record.submitted_at,
    )
