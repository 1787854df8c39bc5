"""Objects in one S3 bucket as bytes: the small helper under the event outbox, the analytics writer and
the exporter. Conditional create (If-None-Match), streaming reads, paginated listings; botocore failures
that mean "S3 is not there right now" become `StorageUnavailable`, as in adapters/storage.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from service.adapters.storage import _error_code, _is_not_found, _is_precondition_failed, _status
from service.errors import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
JSON = "application/json"


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int


class S3Objects:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def __repr__(self) -> str:
        return f"S3Objects(s3://{self.bucket})"

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except ClientError as error:
            if _status(error) >= 500 or _error_code(error) in {"SlowDown", "ServiceUnavailable"}:
                raise StorageUnavailable(f"S3 {what} failed: {_error_code(error)}") from error
            raise
        except BotoCoreError as error:
            raise StorageUnavailable(f"S3 {what} failed: {type(error).__name__}") from error

    def put(self, key: str, body: bytes, content_type: str = JSON) -> None:
        self._call(
            f"put {key}",
            lambda: self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type),
        )

    def create(self, key: str, body: bytes, content_type: str = JSON) -> bool:
        """Write only if absent; False when the key already exists (one writer wins a race)."""
        try:
            self._call(
                f"create {key}",
                lambda: self._s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*"
                ),
            )
        except ClientError as error:
            if _is_precondition_failed(error):
                return False
            raise
        return True

    def get(self, key: str) -> bytes | None:
        try:
            response = self._call(f"get {key}", lambda: self._s3.get_object(Bucket=self.bucket, Key=key))
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise
        return response["Body"].read()

    def iter_lines(self, key: str) -> Iterator[bytes]:
        """The object's lines, read in chunks: constant memory whatever its size."""
        response = self._call(f"get {key}", lambda: self._s3.get_object(Bucket=self.bucket, Key=key))
        body = response["Body"]
        try:
            for line in body.iter_lines(chunk_size=64 * 1024):
                if line:
                    yield line
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", lambda: self._s3.delete_object(Bucket=self.bucket, Key=key))

    def list(self, prefix: str, *, start_after: str = "", limit: int | None = None) -> Iterator[ListedObject]:
        """Keys under `prefix` in key order, one page (1,000 keys) in memory at a time."""
        paginator = self._s3.get_paginator("list_objects_v2")
        count = 0
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix, StartAfter=start_after)
        for page in self._pages(prefix, pages):
            for item in page.get("Contents", []):
                yield ListedObject(item["Key"], int(item.get("Size", 0)))
                count += 1
                if limit is not None and count >= limit:
                    return

    def list_folders(self, prefix: str) -> Iterator[str]:
        """The 'folders' right under `prefix` (common prefixes with delimiter '/')."""
        paginator = self._s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
        for page in self._pages(prefix, pages):
            for common in page.get("CommonPrefixes", []):
                yield common["Prefix"]

    def _pages(self, prefix: str, pages: Iterable[T]) -> Iterator[T]:
        iterator = iter(pages)
        while True:
            try:
                page = self._call(f"list {prefix}", lambda: next(iterator))
            except StopIteration:
                return
            yield page
