"""The raw archive: every webhook and fetched body, content-addressed, kept before it is parsed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime

from service.adapters.s3.bucket import StateBucket
from service.ports import RawEntry


class S3RawArchive:
    def __init__(self, state: StateBucket) -> None:
        self._state = state

    def put(self, body: bytes) -> str:
        """Keep the body under a key derived from its bytes: a repeated delivery is stored once."""
        digest = hashlib.sha256(body).hexdigest()
        key = self._state.key("raw", digest[:2], digest + ".json")
        self._state.put(key, body, if_none_match=True)  # None (already there) is as good as written
        return key

    def get(self, raw_key: str) -> bytes | None:
        found = self._state.get(raw_key)
        return found.body if found else None

    def entries(self) -> Iterator[RawEntry]:
        for listed in self._state.list(self._state.folder("raw")):
            yield RawEntry(raw_key=listed.key, stored_at=listed.last_modified)

    def note_webhook(self, at: datetime) -> None:
        self._state.put(
            self._state.key("meta", "last-webhook.json"), json.dumps({"at": at.isoformat()}).encode()
        )

    def last_webhook(self) -> datetime | None:
        found = self._state.get(self._state.key("meta", "last-webhook.json"))
        if found is None:
            return None
        value = json.loads(found.body).get("at")
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
