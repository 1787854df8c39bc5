"""`S3ObjectStore`: the only module that calls S3 for the service's state, outputs and sources.

Every botocore error that means "S3 is not there right now" (5xx, SlowDown, no connection) becomes
`StorageUnavailable` here, in `_translated`, for every call alike; the web layer answers it with 503.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from service.errors import StorageUnavailable
from service.models.source import SourceRef, StoredSource
from service.ports import JSON_CONTENT_TYPE, ListedObject, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
PRECONDITION_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
UNAVAILABLE_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}
MAX_LIST_PAGE = 1000  # S3's own cap on keys per ListObjectsV2


def build_s3_client(endpoint_url: str | None, region: str) -> S3Client:
    """SigV4 always (boto3 may presign SigV2 otherwise); path-style for local endpoints; bounded retries."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=15,
        max_pool_connections=32,
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _is_not_found(error: ClientError) -> bool:
    return _code(error) in NOT_FOUND_CODES or _status(error) == 404


def _is_precondition_failed(error: ClientError) -> bool:
    return _code(error) in PRECONDITION_CODES or _status(error) in {409, 412}


def _translated(what: str, operation: Callable[[], T]) -> T:
    """Run one S3 call; "unreachable now" becomes StorageUnavailable, other client errors pass through."""
    try:
        return operation()
    except ClientError as error:
        if _status(error) >= 500 or _code(error) in UNAVAILABLE_CODES:
            raise StorageUnavailable(f"S3 {what} failed: {_code(error)}") from error
        raise
    except BotoCoreError as error:
        raise StorageUnavailable(f"S3 {what} failed: {type(error).__name__}") from error


class S3ObjectStore:
    """The `ObjectStore` port over boto3."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3
        self._expiry_checked = False  # warn about short-lived signing credentials once per instance

    def __repr__(self) -> str:
        return "S3ObjectStore()"

    def get(self, bucket: str, key: str) -> StoredObject | None:
        try:
            response = _translated(f"get {key}", lambda: self._s3.get_object(Bucket=bucket, Key=key))
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise
        body = _translated(f"read {key}", response["Body"].read)
        return StoredObject(
            body=body,
            etag=str(response.get("ETag", "")),
            content_type=str(response.get("ContentType", "")),
            metadata=dict(response.get("Metadata", {})),
        )

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        content_type: str = JSON_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        conditions: dict[str, Any] = {}
        if if_match:
            conditions["IfMatch"] = if_match
        elif if_none_match:
            conditions["IfNoneMatch"] = "*"
        extra: dict[str, Any] = {"Metadata": dict(metadata)} if metadata else {}
        try:
            response = _translated(
                f"put {key}",
                lambda: self._s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    **conditions,
                    **extra,
                ),
            )
        except ClientError as error:
            # If-Match on a key that is gone answers 404 NoSuchKey: the condition failed all the same.
            if conditions and (_is_precondition_failed(error) or (if_match and _is_not_found(error))):
                return None
            raise
        return str(response.get("ETag", ""))

    def delete(self, bucket: str, key: str) -> None:
        _translated(f"delete {key}", lambda: self._s3.delete_object(Bucket=bucket, Key=key))

    def list(
        self, bucket: str, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[ListedObject]:
        paginator = self._s3.get_paginator("list_objects_v2")
        arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if start_after:
            arguments["StartAfter"] = start_after
        if limit is not None:  # ask for no more keys than wanted: a queue page of 50 lists 51, not 1000
            arguments["PaginationConfig"] = {"PageSize": min(max(limit, 1), MAX_LIST_PAGE)}
        pages = _translated(f"list {prefix}", lambda: iter(paginator.paginate(**arguments)))
        count = 0
        while True:
            page = _translated(f"list {prefix}", lambda: next(pages, None))
            if page is None:
                return
            for item in page.get("Contents", []):
                yield ListedObject(item["Key"], item["LastModified"], int(item.get("Size", 0)))
                count += 1
                if limit is not None and count >= limit:
                    return

    def head(self, bucket: str, key: str, version_id: str | None = None) -> StoredSource | None:
        arguments: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            arguments["VersionId"] = version_id
        try:
            response = _translated(f"head {key}", lambda: self._s3.head_object(**arguments))
        except ClientError as error:
            if _is_not_found(error) or _status(error) == 403:
                return None
            raise
        version = response.get("VersionId")
        ref = SourceRef(
            bucket=bucket,
            key=key,
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=None if version in (None, "null") else str(version),
        )
        return StoredSource(
            ref=ref, size=int(response.get("ContentLength", 0)), last_modified=response.get("LastModified")
        )

    def presign_get(self, source: SourceRef, ttl_seconds: int) -> str:
        params: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
        if source.version_id:
            params["VersionId"] = source.version_id
        ttl = min(ttl_seconds, MAX_PRESIGN_SECONDS)
        if not self._expiry_checked:
            self._expiry_checked = True
            warning = presign_lifetime_warning(ttl, *_credential_lifetime(self._s3), now=datetime.now(UTC))
            if warning:
                log.warning(warning)
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)

    def ping(self, bucket: str) -> None:
        _translated("head bucket", lambda: self._s3.head_bucket(Bucket=bucket))


def _credential_lifetime(s3: S3Client) -> tuple[bool, datetime | None]:
    """(temporary?, expiry) of the credentials the client signs with. botocore has no public accessor:
    `_get_credentials` and `_expiry_time` are private, so any surprise just skips the warning."""
    credentials = None
    with contextlib.suppress(Exception):  # a warning must never break a submission
        credentials = s3._get_credentials()  # type: ignore[attr-defined]
    if credentials is None:
        return False, None
    expiry = getattr(credentials, "_expiry_time", None)
    return bool(getattr(credentials, "token", None)), expiry if isinstance(expiry, datetime) else None


def presign_lifetime_warning(
    ttl_seconds: int, temporary: bool, expiry: datetime | None, *, now: datetime
) -> str | None:
    """A presigned URL dies with the credentials that signed it, whatever its X-Amz-Expires says."""
    if not temporary:
        return None
    if expiry is None:
        return (
            "presigned URLs are signed with temporary credentials: they stop working when those expire, "
            f"possibly before PRESIGN_TTL_SECONDS={ttl_seconds}"
        )
    left = (expiry - now).total_seconds()
    if left >= ttl_seconds:
        return None
    return (
        f"presigned URLs are signed with temporary credentials that expire in {int(left)} s, sooner than "
        f"PRESIGN_TTL_SECONDS={ttl_seconds}: Nanonets must download each document before then"
    )
