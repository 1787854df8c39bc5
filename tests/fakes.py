"""In-memory adapters for fast unit tests of the use cases.

`InMemoryObjectStore` honours S3's conditional writes (If-None-Match: *, If-Match: <etag>) exactly as the
use cases rely on them; tests/contract runs the same checks on it and on moto, so it cannot drift.
"""

from __future__ import annotations

import builtins
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.errors import EventDeliveryFailed, NanonetsError, NanonetsNotFound, StorageUnavailable
from service.models.completion import CompletionEvent
from service.models.source import SourceRef, StoredSource
from service.observability.catalog import MetricSpec
from service.ports import JSON_CONTENT_TYPE, ListedObject, StoredObject


@dataclass
class _Entry:
    body: bytes
    etag: str
    last_modified: datetime
    content_type: str = JSON_CONTENT_TYPE
    metadata: dict[str, str] = field(default_factory=dict)


class InMemoryObjectStore:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._buckets: dict[str, dict[str, _Entry]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.puts: list[tuple[str, str]] = []  # (bucket, key) of every write that went through
        # (method, key) of every request, as S3 would count them: conditional writes that fail included.
        self.calls: list[tuple[str, str]] = []
        # Writes of keys under these prefixes fail as if S3 were down there (StorageUnavailable).
        self.failing_prefixes: set[str] = set()
        # Writes of keys under these prefixes fail this many more times, then go through.
        self.failures_left: dict[str, int] = {}

    def create_bucket(self, bucket: str) -> None:
        self._buckets.setdefault(bucket, {})

    def _bucket(self, bucket: str) -> dict[str, _Entry]:
        return self._buckets.setdefault(bucket, {})

    def get(self, bucket: str, key: str) -> StoredObject | None:
        self.calls.append(("GET", key))
        with self._lock:
            entry = self._bucket(bucket).get(key)
            if entry is None:
                return None
            return StoredObject(entry.body, entry.etag, entry.content_type, dict(entry.metadata))

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
        self.calls.append(("PUT", key))
        if any(key.startswith(prefix) for prefix in self.failing_prefixes):
            raise StorageUnavailable(f"S3 put {key} failed: ServiceUnavailable")
        for prefix, left in self.failures_left.items():
            if key.startswith(prefix) and left > 0:
                self.failures_left[prefix] = left - 1
                raise StorageUnavailable(f"S3 put {key} failed: ServiceUnavailable")
        with self._lock:
            objects = self._bucket(bucket)
            current = objects.get(key)
            if if_match is not None and (current is None or current.etag != if_match):
                return None
            if if_match is None and if_none_match and current is not None:
                return None
            etag = '"' + hashlib.md5(body).hexdigest() + '"'
            # S3 keeps user metadata names in lower case
            names = {name.lower(): value for name, value in (metadata or {}).items()}
            objects[key] = _Entry(body, etag, self._clock(), content_type, names)
            self.puts.append((bucket, key))
            return etag

    def delete(self, bucket: str, key: str) -> None:
        self.calls.append(("DELETE", key))
        with self._lock:
            self._bucket(bucket).pop(key, None)

    def list(
        self, bucket: str, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[ListedObject]:
        self.calls.append(("LIST", prefix))
        with self._lock:
            keys = sorted(k for k in self._bucket(bucket) if k.startswith(prefix) and k > (start_after or ""))
            listed = [
                ListedObject(k, self._bucket(bucket)[k].last_modified, len(self._bucket(bucket)[k].body))
                for k in keys
            ]
        yield from listed[:limit] if limit is not None else listed

    def head(self, bucket: str, key: str, version_id: str | None = None) -> StoredSource | None:
        self.calls.append(("HEAD", key))
        with self._lock:
            entry = self._bucket(bucket).get(key)
        if entry is None:
            return None
        ref = SourceRef(bucket=bucket, key=key, etag=entry.etag.strip('"'))
        return StoredSource(ref=ref, size=len(entry.body), last_modified=entry.last_modified)

    def presign_get(self, source: SourceRef, ttl_seconds: int) -> str:
        return f"memory://{source.bucket}/{source.key}?ttl={ttl_seconds}"

    def ping(self, bucket: str) -> None:
        return None

    def keys(self, bucket: str, prefix: str = "") -> builtins.list[str]:  # `list` here is the method
        return [listed.key for listed in self.list(bucket, prefix)]


@dataclass
class FakeOcr:
    """Nanonets as the use cases see it: ids for submissions, answers for fetches, errors on demand.

    Like Nanonets, a file belongs to the model it was submitted to: fetching or approving it under another
    model is a 404. `model_id=None` means the configured model (`default_model`)."""

    default_model: str = "model-1"
    submitted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    model_of: dict[str, str] = field(default_factory=dict)  # request_file_id -> the model it went to
    approved: list[str] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    fail_next: list[NanonetsError] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def submit_url_async(
        self, url: str, request_metadata: Mapping[str, Any], model_id: str | None = None
    ) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        file_id = f"file-{next(self._ids)}"
        self.submitted.append((file_id, dict(request_metadata)))
        self.model_of[file_id] = model_id or self.default_model
        return file_id

    def _check_model(self, request_file_id: str, model_id: str | None) -> None:
        known = self.model_of.get(request_file_id)
        if known is not None and known != (model_id or self.default_model):
            raise NanonetsNotFound(f"no such file in model {model_id}", status=404)

    def fetch_file(self, request_file_id: str, model_id: str | None = None) -> dict[str, Any]:
        self._check_model(request_file_id, model_id)
        if request_file_id not in self.answers:
            raise NanonetsNotFound("no such file", status=404)
        return self.answers[request_file_id]

    def approve(self, request_file_id: str, model_id: str | None = None) -> dict[str, Any]:
        self._check_model(request_file_id, model_id)
        self.approved.append(request_file_id)
        return {"message": "Success"}

    def update_fields(self, request_file_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.updated.append((request_file_id, dict(fields)))
        return {"message": "Success"}


@dataclass(frozen=True)
class Recorded:
    name: str
    value: float
    labels: dict[str, str]


@dataclass
class RecordingSink:
    """A metrics sink that keeps every record, for asserting what the use cases reported."""

    records: list[Recorded] = field(default_factory=list)

    def record(self, spec: MetricSpec, value: float, labels: Mapping[str, str]) -> None:
        self.records.append(Recorded(spec.name, value, dict(labels)))

    def flush(self) -> None:
        return None

    def exposition(self) -> None:
        return None

    def values(self, name: str, **labels: str) -> list[float]:
        return [
            r.value
            for r in self.records
            if r.name == name and all(r.labels.get(k) == v for k, v in labels.items())
        ]

    def total(self, name: str, **labels: str) -> float:
        """A counter's sum (or a histogram's sum of observations) over the records matching `labels`."""
        return sum(self.values(name, **labels))

    def gauge(self, name: str, **labels: str) -> float | None:
        """A gauge's last value, None when it was never set."""
        found = self.values(name, **labels)
        return found[-1] if found else None

    def by_label(self, name: str, label: str) -> dict[str, float]:
        sums: dict[str, float] = {}
        for r in self.records:
            if r.name == name and label in r.labels:
                sums[r.labels[label]] = sums.get(r.labels[label], 0.0) + r.value
        return sums


@dataclass
class FakePublisher:
    """An events target: records what it was sent; while `down`, every publish fails."""

    target: str = "https://events.example/hooks"
    down: bool = False
    sent: list[CompletionEvent] = field(default_factory=list)
    attempts: int = 0

    def publish(self, event: CompletionEvent) -> None:
        self.attempts += 1
        if self.down:
            raise EventDeliveryFailed(f"POST {self.target} failed: ConnectionError")
        self.sent.append(event)
