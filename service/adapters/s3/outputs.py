"""Normalized outputs in OUTPUT_BUCKET, written only with a condition so concurrent writers never both
write."""

from __future__ import annotations

from service.ports import ObjectStore, StoredObject


class S3Outputs:
    def __init__(self, objects: ObjectStore, bucket: str) -> None:
        self._objects = objects
        self.bucket = bucket

    def read(self, key: str) -> StoredObject | None:
        return self._objects.get(self.bucket, key)

    def write(self, key: str, body: bytes, *, if_match: str | None = None) -> bool:
        """Write only if the output is still what the caller last saw: absent (`if_match=None`) or of that
        ETag. False when someone else wrote it first."""
        written = self._objects.put(self.bucket, key, body, if_none_match=if_match is None, if_match=if_match)
        return written is not None
