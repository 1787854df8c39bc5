"""`StateBucket`: the one JSON helper the state repositories share (keys under STATE_PREFIX, models in and
out, empty markers), over the `ObjectStore` port.

Layout under STATE_BUCKET/STATE_PREFIX (docs/ARCHITECTURE.md explains each):

    claims/<source digest>/<token hash>.json     one per source version (If-None-Match)
    files/<request_file_id>.json                 the ledger record of a submission
    index/<status>/<request_file_id>             empty markers: reconcile lists only pending/
    index/submitting/<digest>--<token hash>      a submission under way
    raw/<sha[:2]>/<sha256 of body>.json          raw webhook and retrieval bodies, content-addressed
    quarantine/<id>.json                         rejected inputs, with reason and raw key
    meta/last-webhook.json                       time of the last webhook
    review/, index/attention*/, index/review-push/   the review console's records (docs/REVIEW.md)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import TypeVar

from pydantic import BaseModel

from service.ports import JSON_CONTENT_TYPE, ListedObject, ObjectStore, StoredObject

M = TypeVar("M", bound=BaseModel)


class StateBucket:
    def __init__(self, objects: ObjectStore, bucket: str, prefix: str) -> None:
        self.objects = objects
        self.bucket = bucket
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return self.prefix + "/".join(parts)

    def folder(self, *parts: str) -> str:
        return self.key(*parts) + "/"

    def get(self, key: str) -> StoredObject | None:
        return self.objects.get(self.bucket, key)

    def get_model(self, key: str, model: type[M]) -> tuple[M, str] | None:
        found = self.objects.get(self.bucket, key)
        if found is None:
            return None
        return model.model_validate_json(found.body), found.etag

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        content_type: str = JSON_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        return self.objects.put(
            self.bucket,
            key,
            body,
            if_none_match=if_none_match,
            if_match=if_match,
            content_type=content_type,
            metadata=metadata,
        )

    def put_model(
        self, key: str, record: BaseModel, *, if_none_match: bool = False, if_match: str | None = None
    ) -> bool:
        body = record.model_dump_json().encode("utf-8")
        return self.put(key, body, if_none_match=if_none_match, if_match=if_match) is not None

    def mark(self, key: str) -> None:
        self.objects.put(self.bucket, key, b"")

    def delete(self, key: str) -> None:
        self.objects.delete(self.bucket, key)

    def list(
        self, folder: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[ListedObject]:
        return self.objects.list(self.bucket, folder, start_after=start_after, limit=limit)


def token_hash(token: str) -> str:
    """A version token (an ETag or version id) as a fixed-length, key-safe name."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# Letters and digits (any script: `\w` is `str.isalnum()` or '_'), '-', '_' and '.'; at most 128.
_HARMLESS = re.compile(r"[\w.-]{1,128}")


def safe_id(identifier: str) -> str:
    """Ids come from outside (Nanonets, webhooks): keep them to one harmless path segment. An id that is
    one already is itself; any other (or one of dots only) is named by its digest."""
    if _HARMLESS.fullmatch(identifier) and identifier.strip("."):
        return identifier
    return "x-" + hashlib.sha256(identifier.encode()).hexdigest()[:40]


def last_segment(key: str) -> str:
    return key.rsplit("/", 1)[-1]
