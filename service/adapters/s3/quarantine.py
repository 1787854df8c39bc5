"""Quarantine records: inputs that could not become outputs, with the reason and the raw key."""

from __future__ import annotations

from collections.abc import Iterator

from service.adapters.s3.bucket import StateBucket, last_segment, safe_id
from service.models.ledger import QuarantineRecord


class S3Quarantine:
    def __init__(self, state: StateBucket) -> None:
        self._state = state

    def _key(self, quarantine_id: str) -> str:
        return self._state.key("quarantine", safe_id(quarantine_id) + ".json")

    def put(self, record: QuarantineRecord) -> None:
        self._state.put_model(self._key(record.id), record)

    def get(self, quarantine_id: str) -> QuarantineRecord | None:
        found = self._state.get_model(self._key(quarantine_id), QuarantineRecord)
        return found[0] if found else None

    def delete(self, quarantine_id: str) -> None:
        self._state.delete(self._key(quarantine_id))

    def ids(self, limit: int | None = None) -> Iterator[str]:
        for listed in self._state.list(self._state.folder("quarantine"), limit=limit):
            yield last_segment(listed.key).removesuffix(".json")
