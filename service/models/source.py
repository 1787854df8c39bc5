"""The source object: one version of an S3 object that a document comes from.

One value names it everywhere (events, submission, ledger, output): `SourceRef`, with its version `token`
(version id on versioned buckets, else ETag) and its `digest` (a key-safe name of bucket and key).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict


def source_token(etag: str | None, version_id: str | None) -> str:
    """One version of an object: its version id when the bucket is versioned, else its ETag."""
    if version_id and version_id != "null":
        return f"v:{version_id}"
    return f"e:{(etag or '').strip(chr(34))}"


def object_digest(bucket: str, key: str) -> str:
    """State keys never embed raw object keys (spaces, unicode, '..')."""
    return hashlib.sha256(f"{bucket}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None

    @property
    def token(self) -> str:
        return source_token(self.etag, self.version_id)

    @property
    def digest(self) -> str:
        return object_digest(self.bucket, self.key)


class StoredSource(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
    """A source object as S3 describes it (HEAD or listing): its version, size and time."""

    ref: SourceRef
    size: int
    last_modified: datetime | None = None
