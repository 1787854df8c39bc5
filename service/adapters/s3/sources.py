"""Source objects: what a HEAD or a listing says of them, and presigned GET URLs for Nanonets."""

from __future__ import annotations

from collections.abc import Iterator

from service.models.source import SourceRef, StoredSource
from service.ports import ObjectStore


class S3Sources:
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def head(self, source: SourceRef) -> StoredSource | None:
        return self._objects.head(source.bucket, source.key, source.version_id)

    def presign(self, source: SourceRef, ttl_seconds: int) -> str:
        return self._objects.presign_get(source, ttl_seconds)

    def listing(self, bucket: str, prefix: str) -> Iterator[StoredSource]:
        for listed in self._objects.list(bucket, prefix):
            yield StoredSource(
                ref=SourceRef(bucket=bucket, key=listed.key),
                size=listed.size,
                last_modified=listed.last_modified,
            )
