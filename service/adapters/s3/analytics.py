"""`S3AnalyticsDataset`: the flat dataset for analysts (core/analytics.py) in OUTPUT_BUCKET, kept in step
with the outputs, and read back a document at a time for `nanonets-ingest export`.

    <OUTPUT_BUCKET>/<ANALYTICS_PREFIX>rows/dt=<first day>/<sha256(bucket, key)>.jsonl   a document's rows
    <STATE_PREFIX>analytics/<sha256(bucket, key)>.json                 {"dt": "YYYY-MM-DD"}: its day (1.0)
    <STATE_PREFIX>analytics-behind/<request_file_id>                   rows not written yet (reconcile)

The partition of a source is decided once, without a call: the ledger record carries it (`analytics_day`,
the day of the first submission, handed on to each newer version of the same key when its output replaces
the older one; complete.py), so an output write costs one PUT of the rows. The marker is only read for
records written by 1.0, which have no day: it is created with If-None-Match, so two workers racing on a new
document agree on one partition.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from typing import Any

from service.adapters.s3.bucket import StateBucket, last_segment, safe_id
from service.core.analytics import (
    partition_day,
    processing_day,
    rows_jsonl,
    rows_key,
    rows_prefix,
)
from service.errors import DatasetError
from service.models.document import NormalizedDocument
from service.models.source import object_digest
from service.ports import ExportSummary, ObjectStore

log = logging.getLogger(__name__)

Row = dict[str, Any]


class S3AnalyticsDataset:
    def __init__(
        self, objects: ObjectStore, *, output_bucket: str, analytics_prefix: str, state: StateBucket
    ) -> None:
        self._objects = objects
        self._output_bucket = output_bucket
        self._analytics_prefix = analytics_prefix
        self._state = state

    # ---- writing ----

    def write(self, document: NormalizedDocument, route: str, day: date | None = None) -> str:
        """Replace the document's rows in partition `day` (the ledger record's `analytics_day`); None (a
        record of 1.0): the partition marker's day. Returns the key written (in OUTPUT_BUCKET)."""
        source = document.source
        if day is None:
            day = self.first_day(source.bucket, source.key, processing_day(document.processed_at))
        key = rows_key(self._analytics_prefix, day, source.bucket, source.key)
        self._objects.put(self._output_bucket, key, rows_jsonl(document, route))
        # DEBUG: the document's state-change line (`output_written`, or reconcile's line when late) names
        # the rows key; a line of its own per webhook would double the log volume of a completion.
        log.debug(
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
        marker = self._state.key("analytics", object_digest(bucket, key) + ".json")
        found = self._state.get(marker)
        body = found.body if found else None
        remembered = _day_of(body)
        if remembered is not None:
            return remembered
        fresh = json.dumps({"dt": today.isoformat()}).encode()
        if body is not None:
            log.warning("unreadable analytics marker replaced", extra={"marker": marker})
            self._state.put(marker, fresh)
            return today
        if self._state.put(marker, fresh, if_none_match=True) is not None:
            return today
        again = self._state.get(marker)  # another worker created it a moment ago
        return _day_of(again.body if again else None) or today

    # ---- documents whose rows are behind their output ----

    def _behind_key(self, request_file_id: str) -> str:
        return self._state.key("analytics-behind", safe_id(request_file_id))

    def mark_behind(self, request_file_id: str) -> None:
        self._state.mark(self._behind_key(request_file_id))

    def behind(self, limit: int | None = None) -> Iterator[str]:
        for listed in self._state.list(self._state.folder("analytics-behind"), limit=limit):
            yield last_segment(listed.key)

    def caught_up(self, request_file_id: str) -> None:
        self._state.delete(self._behind_key(request_file_id))

    # ---- reading (export) ----

    def rows(
        self, *, since: date | None = None, route: str | None = None, summary: ExportSummary | None = None
    ) -> Iterator[Row]:
        """Every row of the selected partitions, oldest partition first, in key order within one.

        Keys sort by day (`dt=YYYY-MM-DD/`), so `since` is where the listing starts, not a filter: skipped
        days cost nothing. One document's object (a few KB) is in memory at a time."""
        counts = summary if summary is not None else ExportSummary()
        prefix = rows_prefix(self._analytics_prefix)
        start_after = f"{prefix}dt={since.isoformat()}" if since else None  # sorts just before that day
        day_seen: date | None = None
        for listed in self._objects.list(self._output_bucket, prefix, start_after=start_after):
            day = partition_day(listed.key)
            if day is None or (since is not None and day < since):
                continue  # not a rows object of the dataset
            found = self._objects.get(self._output_bucket, listed.key)
            if found is None:
                continue  # replaced or deleted since the listing
            if day != day_seen:
                counts.partitions += 1
                day_seen = day
            counts.documents += 1
            for number, line in enumerate(found.body.splitlines(), start=1):
                if not line.strip():
                    continue
                row = _row(listed.key, number, line)
                if route is not None and row.get("route") != route:
                    continue
                counts.rows += 1
                yield row


def _row(key: str, number: int, line: bytes) -> Row:
    try:
        row = json.loads(line)
    except ValueError:
        raise DatasetError(f"{key}: line {number} is not JSON; fix or delete that object") from None
    if not isinstance(row, dict):
        raise DatasetError(f"{key}: line {number} is not a JSON object; fix or delete that object")
    return row


def _day_of(marker: bytes | None) -> date | None:
    if marker is None:
        return None
    try:
        return date.fromisoformat(json.loads(marker)["dt"])
    except (ValueError, KeyError, TypeError):
        return None
