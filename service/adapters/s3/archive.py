"""The raw archive: every webhook and fetched body, content-addressed, kept before it is parsed."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from service.adapters.s3.bucket import StateBucket
from service.ports import ArchivedBody, RawEntry

# `status` shows the time of the last webhook to this precision: noting every webhook would cost each one a
# PUT for a figure nobody reads to the second.
NOTE_WEBHOOK_EVERY_SECONDS = 60.0


class S3RawArchive:
    def __init__(self, state: StateBucket, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._state = state
        self._monotonic = monotonic
        self._noted_at: float | None = None  # when this process last wrote the note

    def archive(self, body: bytes) -> ArchivedBody:
        """Keep the body under a key derived from its bytes, so a repeated delivery is stored once, and say
        whether these bytes were there already (the conditional write failed)."""
        digest = hashlib.sha256(body).hexdigest()
        key = self._state.key("raw", digest[:2], digest + ".json")
        written = self._state.put(key, body, if_none_match=True)
        return ArchivedBody(raw_key=key, seen_before=written is None)

    def get(self, raw_key: str) -> bytes | None:
        found = self._state.get(raw_key)
        return found.body if found else None

    def entries(self) -> Iterator[RawEntry]:
        for listed in self._state.list(self._state.folder("raw")):
            yield RawEntry(raw_key=listed.key, stored_at=listed.last_modified)

    def note_webhook(self, at: datetime) -> None:
        """At most once a minute per process (worker or Lambda container)."""
        now = self._monotonic()
        if self._noted_at is not None and now - self._noted_at < NOTE_WEBHOOK_EVERY_SECONDS:
            return
        self._noted_at = now
        self._state.put(
            self._state.key("meta", "last-webhook.json"), json.dumps({"at": at.isoformat()}).encode()
        )

    def last_webhook(self) -> datetime | None:
        found = self._state.get(self._state.key("meta", "last-webhook.json"))
        if found is None:
            return None
        value = json.loads(found.body).get("at")
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
