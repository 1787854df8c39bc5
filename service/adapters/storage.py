"""S3: source objects, presigned URLs, the raw webhook archive, the ledger, outputs and quarantine.

Layout under STATE_BUCKET/STATE_PREFIX:

    claims/<sha256(bucket, key)>/<version token>.json   one per source version (If-None-Match)
    files/<request_file_id>.json                         the ledger record of a submission
    index/<status>/<request_file_id>                     empty markers: a reconcile run lists only pending/
    raw/<sha[:2]>/<sha256 of body>.json                  raw webhook and retrieval bodies, content-addressed
    quarantine/<id>.json                                 rejected inputs, with reason and raw key
    meta/last-webhook.json                               time of the last webhook

Every botocore error that means "S3 is not there right now" becomes `StorageUnavailable`, which the web layer
answers with 503 so the caller retries.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from service.errors import StorageUnavailable
from service.models.ledger import LedgerRecord, LedgerStatus, QuarantineRecord, SubmissionClaim

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from service.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_PRESIGN_SECONDS = 7 * 24 * 3600
NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
JSON = "application/json"


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None


@dataclass(frozen=True)
class ListedKey:
    key: str
    last_modified: datetime
    size: int


def build_s3_client(settings: Settings) -> S3Client:
    """SigV4 always (boto3 may presign SigV2 otherwise); path-style for local endpoints; bounded retries."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.aws_endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=15,
        max_pool_connections=32,
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_default_region,
        config=config,
    )


def _credential_lifetime(s3: S3Client) -> tuple[bool, datetime | None]:
    """(temporary?, expiry) of the credentials the client signs with. botocore has no public accessor:
    `_get_credentials` and `_expiry_time` are private, so any surprise just skips the warning."""
    try:
        credentials = s3._get_credentials()  # type: ignore[attr-defined]
    except Exception:  # a warning must never break a submission
        return False, None
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


def _token_hash(token: str) -> str:
    """A version token (an ETag or version id) as a fixed-length, key-safe name."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _is_not_found(error: ClientError) -> bool:
    return _error_code(error) in NOT_FOUND_CODES or _status(error) == 404


def _is_precondition_failed(error: ClientError) -> bool:
    return _error_code(error) in {"PreconditionFailed", "ConditionalRequestConflict"} or _status(error) in {
        409,
        412,
    }


class Storage:
    """Every S3 call of the service. Built from settings by `Storage.from_settings`."""

    def __init__(self, s3: S3Client, *, state_bucket: str, state_prefix: str, output_bucket: str) -> None:
        self._s3 = s3
        self.state_bucket = state_bucket
        self.state_prefix = state_prefix
        self.output_bucket = output_bucket
        self._expiry_checked = False  # warn about short-lived signing credentials once per instance

    @classmethod
    def from_settings(cls, settings: Settings, s3: S3Client | None = None) -> Storage:
        return cls(
            s3 or build_s3_client(settings),
            state_bucket=settings.state_bucket_name,
            state_prefix=settings.state_prefix,
            output_bucket=settings.output_bucket,
        )

    def __repr__(self) -> str:
        return (
            f"Storage(state=s3://{self.state_bucket}/{self.state_prefix}, output=s3://{self.output_bucket})"
        )

    # ---- plumbing ----

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except ClientError as error:
            if _status(error) >= 500 or _error_code(error) in {"SlowDown", "ServiceUnavailable"}:
                raise StorageUnavailable(f"S3 {what} failed: {_error_code(error)}") from error
            raise
        except BotoCoreError as error:
            raise StorageUnavailable(f"S3 {what} failed: {type(error).__name__}") from error

    def _state_key(self, *parts: str) -> str:
        return self.state_prefix + "/".join(parts)

    def _put_json(self, bucket: str, key: str, body: bytes, **conditions: str) -> str:
        response = self._call(
            f"put {key}",
            lambda: self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=JSON, **conditions),  # type: ignore[arg-type]
        )
        return str(response.get("ETag", ""))

    def _get_bytes(self, bucket: str, key: str) -> tuple[bytes, str] | None:
        try:
            response = self._call(f"get {key}", lambda: self._s3.get_object(Bucket=bucket, Key=key))
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise
        return response["Body"].read(), str(response.get("ETag", ""))

    def _get_model(self, key: str, model: type[M]) -> tuple[M, str] | None:
        found = self._get_bytes(self.state_bucket, key)
        if found is None:
            return None
        body, etag = found
        return model.model_validate_json(body), etag

    def _delete(self, bucket: str, key: str) -> None:
        self._call(f"delete {key}", lambda: self._s3.delete_object(Bucket=bucket, Key=key))

    def _list(self, bucket: str, prefix: str, limit: int | None = None) -> Iterator[ListedKey]:
        paginator = self._s3.get_paginator("list_objects_v2")
        count = 0
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ListedKey(item["Key"], item["LastModified"], int(item.get("Size", 0)))
                    count += 1
                    if limit is not None and count >= limit:
                        return
        except ClientError as error:
            if _status(error) >= 500:
                raise StorageUnavailable(f"S3 list {prefix} failed: {_error_code(error)}") from error
            raise
        except BotoCoreError as error:
            raise StorageUnavailable(f"S3 list {prefix} failed: {type(error).__name__}") from error

    def ping(self) -> None:
        """Raise StorageUnavailable when the state bucket cannot be reached."""
        self._call("head bucket", lambda: self._s3.head_bucket(Bucket=self.state_bucket))

    # ---- source objects ----

    def head_source(self, bucket: str, key: str, version_id: str | None = None) -> SourceObject | None:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._call(f"head {key}", lambda: self._s3.head_object(**kwargs))
        except ClientError as error:
            if _is_not_found(error) or _status(error) == 403:
                return None
            raise
        version = response.get("VersionId")
        return SourceObject(
            bucket=bucket,
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=None if version in (None, "null") else str(version),
        )

    def presign_get(self, bucket: str, key: str, version_id: str | None, ttl_seconds: int) -> str:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        ttl = min(ttl_seconds, MAX_PRESIGN_SECONDS)
        if not self._expiry_checked:
            self._expiry_checked = True
            warning = presign_lifetime_warning(ttl, *_credential_lifetime(self._s3), now=datetime.now(UTC))
            if warning:
                log.warning(warning)
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)

    def list_sources(self, bucket: str, prefix: str) -> Iterator[ListedKey]:
        return self._list(bucket, prefix)

    # ---- submission claims ----

    def _claim_key(self, digest: str, token: str) -> str:
        return self._claim_key_of(digest, _token_hash(token))

    def _claim_key_of(self, digest: str, token_hash: str) -> str:
        return self._state_key("claims", digest, token_hash + ".json")

    def create_claim(self, digest: str, claim: SubmissionClaim) -> bool:
        """True when this caller now owns the submission of that source version."""
        key = self._claim_key(digest, claim.source_token)
        try:
            self._put_json(self.state_bucket, key, claim.model_dump_json().encode(), IfNoneMatch="*")
        except ClientError as error:
            if _is_precondition_failed(error):
                return False
            raise
        return True

    def read_claim(self, digest: str, token: str) -> tuple[SubmissionClaim, str] | None:
        return self._get_model(self._claim_key(digest, token), SubmissionClaim)

    def replace_claim(self, digest: str, claim: SubmissionClaim, if_match: str | None = None) -> bool:
        """Overwrite a claim; with `if_match`, only if nobody changed it since it was read."""
        key = self._claim_key(digest, claim.source_token)
        conditions = {"IfMatch": if_match} if if_match else {}
        try:
            self._put_json(self.state_bucket, key, claim.model_dump_json().encode(), **conditions)
        except ClientError as error:
            if _is_precondition_failed(error):
                return False
            raise
        return True

    def delete_claim(self, digest: str, token: str) -> None:
        self._delete(self.state_bucket, self._claim_key(digest, token))

    # A marker per submission under way, so reconcile finds claims whose worker died without listing
    # every claim ever made: index/submitting/<digest>--<token hash>.
    def _submitting_key(self, digest: str, token: str) -> str:
        return self._state_key("index", "submitting", f"{digest}--{_token_hash(token)}")

    def mark_submitting(self, digest: str, token: str) -> None:
        self._put_json(self.state_bucket, self._submitting_key(digest, token), b"")

    def clear_submitting(self, digest: str, token: str) -> None:
        self._delete(self.state_bucket, self._submitting_key(digest, token))

    def list_submitting(self, limit: int | None = None) -> Iterator[ListedKey]:
        return self._list(self.state_bucket, self._state_key("index", "submitting") + "/", limit)

    def claim_of_marker(self, listed: ListedKey) -> tuple[SubmissionClaim, str] | None:
        digest, _, token_hash = listed.key.rsplit("/", 1)[-1].partition("--")
        return self._get_model(self._claim_key_of(digest, token_hash), SubmissionClaim)

    def delete_marker(self, listed: ListedKey) -> None:
        self._delete(self.state_bucket, listed.key)

    # ---- ledger ----

    def _record_key(self, request_file_id: str) -> str:
        return self._state_key("files", _safe_id(request_file_id) + ".json")

    def _index_key(self, status: LedgerStatus, request_file_id: str) -> str:
        return self._state_key("index", status, _safe_id(request_file_id))

    def get_record(self, request_file_id: str) -> LedgerRecord | None:
        found = self._get_model(self._record_key(request_file_id), LedgerRecord)
        return found[0] if found else None

    def put_record(self, record: LedgerRecord, previous_status: LedgerStatus | None = None) -> None:
        """Write the record, then move its index marker (marker last: a crash leaves it findable)."""
        self._put_json(self.state_bucket, self._record_key(record.request_file_id), record_bytes(record))
        if previous_status == record.status:
            return
        self._put_json(self.state_bucket, self._index_key(record.status, record.request_file_id), b"")
        if previous_status is not None:
            self._delete(self.state_bucket, self._index_key(previous_status, record.request_file_id))

    def list_index(self, status: LedgerStatus, limit: int | None = None) -> Iterator[ListedKey]:
        return self._list(self.state_bucket, self._state_key("index", status) + "/", limit)

    def index_id(self, listed: ListedKey) -> str:
        return listed.key.rsplit("/", 1)[-1]

    # ---- raw archive ----

    def archive_raw(self, body: bytes) -> str:
        """Keep the body under a key derived from its bytes: a repeated delivery is stored once."""
        digest = hashlib.sha256(body).hexdigest()
        key = self._state_key("raw", digest[:2], digest + ".json")
        try:
            self._put_json(self.state_bucket, key, body, IfNoneMatch="*")
        except ClientError as error:
            if not _is_precondition_failed(error):
                raise
        return key

    def get_raw(self, key: str) -> bytes | None:
        found = self._get_bytes(self.state_bucket, key)
        return found[0] if found else None

    def list_raw(self) -> Iterator[ListedKey]:
        return self._list(self.state_bucket, self._state_key("raw") + "/")

    def note_webhook(self, at: str) -> None:
        self._put_json(
            self.state_bucket, self._state_key("meta", "last-webhook.json"), f'{{"at":"{at}"}}'.encode()
        )

    def last_webhook(self) -> str | None:
        found = self._get_bytes(self.state_bucket, self._state_key("meta", "last-webhook.json"))
        if found is None:
            return None
        import json

        value = json.loads(found[0]).get("at")
        return str(value) if value else None

    # ---- quarantine ----

    def _quarantine_key(self, quarantine_id: str) -> str:
        return self._state_key("quarantine", _safe_id(quarantine_id) + ".json")

    def put_quarantine(self, record: QuarantineRecord) -> str:
        key = self._quarantine_key(record.id)
        self._put_json(self.state_bucket, key, record_bytes(record))
        return key

    def get_quarantine(self, quarantine_id: str) -> QuarantineRecord | None:
        found = self._get_model(self._quarantine_key(quarantine_id), QuarantineRecord)
        return found[0] if found else None

    def delete_quarantine(self, quarantine_id: str) -> None:
        self._delete(self.state_bucket, self._quarantine_key(quarantine_id))

    def list_quarantine(self, limit: int | None = None) -> Iterator[ListedKey]:
        return self._list(self.state_bucket, self._state_key("quarantine") + "/", limit)

    def quarantine_id(self, listed: ListedKey) -> str:
        return listed.key.rsplit("/", 1)[-1].removesuffix(".json")

    # ---- outputs ----

    def put_output(self, key: str, body: bytes, *, if_match: str | None = None) -> bool:
        """Write an output only if it is still what the caller last saw: absent (`if_match=None`) or of
        that ETag. False when someone else wrote it first (412), so concurrent writers never both write."""
        conditions = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        try:
            self._put_json(self.output_bucket, key, body, **conditions)
        except ClientError as error:
            if _is_precondition_failed(error) or _error_code(error) == "ConditionalRequestConflict":
                return False
            raise
        return True

    def read_output(self, key: str) -> tuple[bytes, str] | None:
        """The output's bytes and ETag, or None."""
        return self._get_bytes(self.output_bucket, key)

    def get_output(self, key: str) -> bytes | None:
        found = self._get_bytes(self.output_bucket, key)
        return found[0] if found else None


def record_bytes(record: BaseModel) -> bytes:
    return record.model_dump_json().encode("utf-8")


def _safe_id(identifier: str) -> str:
    """Ids come from outside (Nanonets, webhooks): keep them to one harmless path segment."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in identifier)[:128]
    if not cleaned or cleaned.strip(".") == "" or cleaned != identifier:
        return "x-" + hashlib.sha256(identifier.encode()).hexdigest()[:40]
    return cleaned
