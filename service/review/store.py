"""The review console's own records under STATE_PREFIX: overrides, audit trail, pushes still to send.

All of it goes through `StateBucket` (the `ObjectStore` port): every write that can race another writer is
conditional, `If-None-Match: *` to create, `If-Match: <etag>` to replace; a loser gets False back and reads
again.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from service.adapters.s3.bucket import StateBucket, last_segment
from service.review.models import AuditRecord, Overrides


class ReviewRecords:
    def __init__(self, state: StateBucket) -> None:
        self.state = state

    def overrides_key(self, request_file_id: str) -> str:
        return self.state.key("review", f"{request_file_id}.json")

    def read_overrides(self, request_file_id: str) -> tuple[Overrides, str | None]:
        """The overrides and their ETag; an empty record and None when there are none yet."""
        found = self.state.get_model(self.overrides_key(request_file_id), Overrides)
        if found is None:
            return Overrides(request_file_id=request_file_id), None
        return found

    def write_overrides(self, overrides: Overrides, etag: str | None) -> bool:
        """Replace only what the caller read (If-Match), or create only if still absent."""
        key = self.overrides_key(overrides.request_file_id)
        return self.state.put_model(key, overrides, if_match=etag, if_none_match=etag is None)

    def _audit_folder(self, request_file_id: str) -> str:
        return self.state.folder("review", "audit", request_file_id)

    def append_audit(self, record: AuditRecord, moment: datetime) -> str:
        """One object per action, named by time so a listing is the history in order; never overwritten."""
        name = f"{moment:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.json"
        key = self._audit_folder(record.request_file_id) + name
        self.state.put_model(key, record, if_none_match=True)
        return key

    def audit_trail(self, request_file_id: str, limit: int = 200) -> list[AuditRecord]:
        records: list[AuditRecord] = []
        for listed in self.state.list(self._audit_folder(request_file_id), limit=limit):
            found = self.state.get_model(listed.key, AuditRecord)
            if found is not None:
                records.append(found[0])
        return records

    def _push_marker(self, request_file_id: str) -> str:
        return self.state.key("index", "review-push", request_file_id)

    def mark_push_pending(self, request_file_id: str) -> None:
        self.state.mark(self._push_marker(request_file_id))

    def clear_push_pending(self, request_file_id: str) -> None:
        self.state.delete(self._push_marker(request_file_id))

    def pending_pushes(self, limit: int) -> list[str]:
        folder = self.state.folder("index", "review-push")
        return [last_segment(listed.key) for listed in self.state.list(folder, limit=limit)]
