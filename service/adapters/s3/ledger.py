"""The ledger: one record per request_file_id, and an empty index marker per unfinished or unusual status
(pending, failed, superseded) so reconcile and status list one status without reading every record.

"done" has no marker: it is where almost every record ends, so a marker would cost every completion a PUT
for nothing but a count; `status` counts the records instead (`records()`)."""

from __future__ import annotations

from collections.abc import Iterator

from service.adapters.s3.bucket import StateBucket, last_segment, safe_id
from service.models.ledger import INDEXED_STATUSES, IndexedStatus, LedgerRecord, LedgerStatus
from service.ports import IndexEntry


class S3Ledger:
    def __init__(self, state: StateBucket) -> None:
        self._state = state

    def _record_key(self, request_file_id: str) -> str:
        return self._state.key("files", safe_id(request_file_id) + ".json")

    def _index_key(self, status: LedgerStatus, request_file_id: str) -> str:
        return self._state.key("index", status, safe_id(request_file_id))

    def get(self, request_file_id: str) -> LedgerRecord | None:
        found = self._state.get_model(self._record_key(request_file_id), LedgerRecord)
        return found[0] if found else None

    def put(self, record: LedgerRecord, *, previous_status: LedgerStatus | None = None) -> None:
        """Write the record, then move its index marker (marker last: a crash leaves it findable)."""
        self._state.put_model(self._record_key(record.request_file_id), record)
        if previous_status == record.status:
            return
        if record.status in INDEXED_STATUSES:
            self._state.mark(self._index_key(record.status, record.request_file_id))
        if previous_status in INDEXED_STATUSES:
            self._state.delete(self._index_key(previous_status, record.request_file_id))

    def records(self) -> int:
        """How many records there are, of any status (one listing, no record read)."""
        return sum(1 for _ in self._state.list(self._state.folder("files")))

    def entries(self, status: IndexedStatus, limit: int | None = None) -> Iterator[IndexEntry]:
        for listed in self._state.list(self._state.folder("index", status), limit=limit):
            yield IndexEntry(request_file_id=last_segment(listed.key), marked_at=listed.last_modified)
