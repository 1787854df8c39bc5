"""Keyed bytes in S3 buckets, as the event outbox, the analytics writer and the exporter need them.

`ObjectStore` is the subset of the project's storage port these modules use, with the same signatures as
`service.ports.ObjectStore` of the issue-12 redesign (get / put with If-None-Match and If-Match / delete /
list), so that port's `S3ObjectStore` (or its in-memory fake) can be handed in as it is; `S3Objects` is a
boto3 implementation of the subset for the code that predates it. Botocore failures that mean "S3 is not
there right now" become `StorageUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from service.adapters.storage import _error_code, _is_not_found, _is_precondition_failed, _status
from service.errors import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
JSON = "application/json"


class Stored(Protocol):
    @property
    def body(self) -> bytes: ...


class Listed(Protocol):
    @property
    def key(self) -> str: ...


class ObjectStore(Protocol):
    def get(self, bucket: str, key: str) -> Stored | None: ...

    def put(
        self, bucket: str, key: str, body: bytes, *, if_none_match: bool = False, if_match: str | None = None
    ) -> str | None:
        """The new ETag, or None when the condition failed (someone else wrote first)."""
        ...

    def delete(self, bucket: str, key: str) -> None: ...

    def list(
        self, bucket: str, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[Listed]: ...


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    etag: str


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int


class S3Objects:
    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    def __repr__(self) -> str:
        return "S3Objects()"

    def get(self, bucket: str, key: str) -> StoredObject | None:
        try:
            response = _guarded(f"get {key}", lambda: self._s3.get_object(Bucket=bucket, Key=key))
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise
        body = _guarded(f"read {key}", response["Body"].read)
        return StoredObject(body=body, etag=str(response.get("ETag", "")))

    def put(
        self, bucket: str, key: str, body: bytes, *, if_none_match: bool = False, if_match: str | None = None
    ) -> str | None:
        conditions: dict[str, Any] = {}
        if if_match:
            conditions["IfMatch"] = if_match
        elif if_none_match:
            conditions["IfNoneMatch"] = "*"
        try:
            response = _guarded(
                f"put {key}",
                lambda: self._s3.put_object(
                    Bucket=bucket, Key=key, Body=body, ContentType=JSON, **conditions
                ),
            )
        except ClientError as error:
            if conditions and (_is_precondition_failed(error) or (if_match and _is_not_found(error))):
                return None
            raise
        return str(response.get("ETag", ""))

    def delete(self, bucket: str, key: str) -> None:
        _guarded(f"delete {key}", lambda: self._s3.delete_object(Bucket=bucket, Key=key))

    def list(
        self, bucket: str, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[ListedObject]:
        """Keys under `prefix` in key order, one page (1,000 keys) in memory at a time."""
        paginator = self._s3.get_paginator("list_objects_v2")
        extra = {"StartAfter": start_after} if start_after else {}
        pages = iter(paginator.paginate(Bucket=bucket, Prefix=prefix, **extra))  # type: ignore[arg-type]
        count = 0
        while True:
            try:
                page = _guarded(f"list {prefix}", lambda: next(pages))
            except StopIteration:
                return
            for item in page.get("Contents", []):
                yield ListedObject(item["Key"], int(item.get("Size", 0)))
                count += 1
                if limit is not None and count >= limit:
                    return


def _guarded(what: str, operation: Callable[[], T]) -> T:
    try:
        return operation()
    except ClientError as error:
        if _status(error) >= 500 or _error_code(error) in {"SlowDown", "ServiceUnavailable"}:
            raise StorageUnavailable(f"S3 {what} failed: {_error_code(error)}") from error
        raise
    except BotoCoreError as error:
        raise StorageUnavailable(f"S3 {what} failed: {type(error).__name__}") from error
