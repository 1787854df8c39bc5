"""Keeps the analytics dataset (core/analytics.py) in step with the outputs: called after every output
write, it overwrites the document's one rows object.

The first-processing date that names the document's partition is remembered in the state bucket,

    <STATE_PREFIX>analytics/<sha256(bucket, key)>.json     {"dt": "YYYY-MM-DD"}

created with If-None-Match, so two workers racing on a new document agree on one partition. Cost per
output write: one GET of that marker (plus one conditional PUT the first time) and one PUT of the rows.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import TYPE_CHECKING

from service.core.analytics import document_rows, processing_day, rows_jsonl, rows_key
from service.core.keys import object_digest
from service.models.document import NormalizedDocument

if TYPE_CHECKING:
    from service.adapters.s3_objects import ObjectStore
    from service.settings import Settings

log = logging.getLogger(__name__)


class AnalyticsWriter:
    def __init__(
        self,
        objects: ObjectStore,
        *,
        output_bucket: str,
        analytics_prefix: str,
        state_bucket: str,
        state_prefix: str,
    ) -> None:
        self._objects = objects
        self._output_bucket = output_bucket
        self._analytics_prefix = analytics_prefix
        self._state_bucket = state_bucket
        self._state_prefix = state_prefix

    @classmethod
    def from_settings(cls, settings: Settings, objects: ObjectStore) -> AnalyticsWriter:
        return cls(
            objects,
            output_bucket=settings.output_bucket,
            analytics_prefix=settings.analytics_prefix,
            state_bucket=settings.state_bucket_name,
            state_prefix=settings.state_prefix,
        )

    def write(self, document: NormalizedDocument, route: str | None) -> str:
        """Replace the document's rows; returns the key written (in OUTPUT_BUCKET)."""
        source = document.source
        day = self.first_day(source.bucket, source.key, processing_day(document.processed_at))
        key = rows_key(self._analytics_prefix, day, source.bucket, source.key)
        self._objects.put(self._output_bucket, key, rows_jsonl(document_rows(document, route)))
        log.info(
            "analytics rows written",
            extra={
                "request_file_id": document.nanonets.request_file_id,
                "bucket": source.bucket,
                "key": source.key,
                "rows_key": key,
            },
        )
        return key

    def first_day(self, bucket: str, key: str, today: date) -> date:
        """The partition day of the document: the one remembered, else `today`, remembered from now on."""
        marker = f"{self._state_prefix}analytics/{object_digest(bucket, key)}.json"
        found = self._objects.get(self._state_bucket, marker)
        body = found.body if found else None
        remembered = _day_of(body)
        if remembered is not None:
            return remembered
        fresh = json.dumps({"dt": today.isoformat()}).encode()
        if body is not None:
            log.warning("unreadable analytics marker replaced", extra={"marker": marker})
            self._objects.put(self._state_bucket, marker, fresh)
            return today
        if self._objects.put(self._state_bucket, marker, fresh, if_none_match=True) is not None:
            return today
        again = self._objects.get(self._state_bucket, marker)  # another worker created it a moment ago
        return _day_of(again.body if again else None) or today


def _day_of(marker: bytes | None) -> date | None:
    if marker is None:
        return None
    try:
        return date.fromisoformat(json.loads(marker)["dt"])
    except (ValueError, KeyError, TypeError):
        return None
