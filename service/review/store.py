"""S3 for the review console: one small object helper with conditional writes, and the console's records.

Every write that can race another writer is conditional: `If-None-Match: *` to create, `If-Match: <etag>` to
replace; a loser gets `None` back and reads again. Botocore failures that mean "S3 is not there right now"
become `StorageUnavailable`, which the console answers with 503.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

# The storage adapter's reading of botocore errors, so both agree on what "absent" and "lost the race" are.
from service.adapters.storage import _error_code as _code
from service.adapters.storage import _is_not_found as is_not_found
from service.adapters.storage import _is_precondition_failed as is_conflict
from service.adapters.storage import _status as _http_status
from service.errors import StorageUnavailable
from service.review.models import AuditRecord, Overrides

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class StoredObject:
    body: bytes  # empty from a HEAD
    etag: str
    content_type: str
    metadata: Mapping[str, str]
    size: int
    last_modified: datetime | None


def _stored(response: Mapping[str, Any], body: bytes) -> StoredObject:
    return StoredObject(
        body=body,
        etag=str(response.get("ETag", "")),
        content_type=str(response.get("ContentType", "")),
        metadata=dict(response.get("Metadata", {})),
        size=int(response.get("ContentLength", len(body)) or 0),
        last_modified=response.get("LastModified"),
    )


@dataclass(frozen=True)
class Listed:
    key: str
    last_modified: datetime


class ObjectStore:
    """get / head / conditional put / delete / ordered listing of one bucket."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except ClientError as error:
            if _http_status(error) >= 500 or _code(error) in {"SlowDown", "ServiceUnavailable"}:
                raise StorageUnavailable(f"S3 {what} failed: {_code(error)}") from error
            raise
        except BotoCoreError as error:
            raise StorageUnavailable(f"S3 {what} failed: {type(error).__name__}") from error

    def get(
        self, key: str, *, if_match: str | None = None, version_id: str | None = None
    ) -> StoredObject | None:
        """The object, or None when absent (or, with `if_match`, when it changed since)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_match:
            kwargs["IfMatch"] = if_match
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._call(f"get {key}", lambda: self._s3.get_object(**kwargs))
        except ClientError as error:
            if is_not_found(error) or is_conflict(error):
                return None
            raise
        return _stored(response, response["Body"].read())

    def head(self, key: str, *, version_id: str | None = None) -> StoredObject | None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._call(f"head {key}", lambda: self._s3.head_object(**kwargs))
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        return _stored(response, b"")

    def put(
        self,
        key: str,
        body: bytes,
        *,
        expected_etag: str | None = None,
        create_only: bool = False,
        content_type: str = "application/json",
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Write; the new ETag, or None when the condition failed (someone else wrote first)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": body}
        kwargs["ContentType"] = content_type
        if expected_etag:
            kwargs["IfMatch"] = expected_etag
        elif create_only:
            kwargs["IfNoneMatch"] = "*"
        if metadata:
            kwargs["Metadata"] = dict(metadata)
        try:
            response = self._call(f"put {key}", lambda: self._s3.put_object(**kwargs))
        except ClientError as error:
            if is_conflict(error):
                return None
            raise
        return str(response.get("ETag", ""))

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", lambda: self._s3.delete_object(Bucket=self.bucket, Key=key))

    def list(self, prefix: str, *, start_after: str | None = None, page_size: int = 1000) -> Iterator[Listed]:
        """Keys under `prefix` in key order, from just after `start_after`; one request per page_size."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": page_size}
        if start_after:
            kwargs["StartAfter"] = start_after
        while True:
            response = self._call(f"list {prefix}", lambda: self._s3.list_objects_v2(**kwargs))
            for item in response.get("Contents", []):
                yield Listed(key=item["Key"], last_modified=item["LastModified"])
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return
            kwargs.pop("StartAfter", None)
            kwargs["ContinuationToken"] = token

    def get_model(self, key: str, model: type[M]) -> tuple[M, str] | None:
        found = self.get(key)
        if found is None:
            return None
        return model.model_validate_json(found.body), found.etag

    def put_model(
        self, key: str, record: BaseModel, *, expected_etag: str | None = None, create_only: bool = False
    ) -> str | None:
        body = record.model_dump_json(exclude_none=True).encode("utf-8")
        return self.put(key, body, expected_etag=expected_etag, create_only=create_only)


class ReviewRecords:
    """The console's own records under STATE_PREFIX: overrides, audit, pending pushes."""

    def __init__(self, state: ObjectStore, state_prefix: str) -> None:
        self.state = state
        self.prefix = state_prefix

    def overrides_key(self, request_file_id: str) -> str:
        return f"{self.prefix}review/{request_file_id}.json"

    def read_overrides(self, request_file_id: str) -> tuple[Overrides, str | None]:
        """The overrides and their ETag; an empty record and None when there are none yet."""
        found = self.state.get_model(self.overrides_key(request_file_id), Overrides)
        if found is None:
            return Overrides(request_file_id=request_file_id), None
        return found

    def write_overrides(self, overrides: Overrides, etag: str | None) -> str | None:
        """Replace only what the caller read (If-Match), or create only if still absent."""
        key = self.overrides_key(overrides.request_file_id)
        return self.state.put_model(key, overrides, expected_etag=etag, create_only=etag is None)

    def _audit_prefix(self, request_file_id: str) -> str:
        return f"{self.prefix}review/audit/{request_file_id}/"

    def append_audit(self, record: AuditRecord, moment: datetime) -> str:
        """One object per action, named by time so a listing is the history in order; never overwritten."""
        name = f"{moment:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.json"
        key = self._audit_prefix(record.request_file_id) + name
        self.state.put_model(key, record, create_only=True)
        return key

    def audit_trail(self, request_file_id: str, limit: int = 200) -> list[AuditRecord]:
        records: list[AuditRecord] = []
        for listed in self.state.list(self._audit_prefix(request_file_id)):
            found = self.state.get_model(listed.key, AuditRecord)
            if found is not None:
                records.append(found[0])
            if len(records) >= limit:
                break
        return records

    def _push_marker(self, request_file_id: str) -> str:
        return f"{self.prefix}index/review-push/{request_file_id}"

    def mark_push_pending(self, request_file_id: str) -> None:
        self.state.put(self._push_marker(request_file_id), b"", content_type="text/plain")

    def clear_push_pending(self, request_file_id: str) -> None:
        self.state.delete(self._push_marker(request_file_id))

    def pending_pushes(self, limit: int) -> list[str]:
        found: list[str] = []
        for listed in self.state.list(f"{self.prefix}index/review-push/"):
            found.append(listed.key.rsplit("/", 1)[-1])
            if len(found) >= limit:
                break
        return found
