"""`nanonets-ingest export`: the analytics dataset (core/analytics.py) as one CSV, JSON Lines or Parquet
file, for people without Athena.

Streaming, in constant memory whatever the number of documents: objects are listed a page at a time,
one document's rows object (a few KB) is read at a time, each row is written as it comes (Parquet: in row
groups of `PARQUET_BATCH_ROWS`). `--since` selects partitions (the day a document was first processed,
inclusive); `--route` selects rows. The file appears only when the export is complete (written beside it, then
renamed), so a failed run never leaves half a spreadsheet behind.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol

from service.core.analytics import COLUMNS, partition_day, rows_prefix
from service.errors import IngestError, UsageError

if TYPE_CHECKING:
    from service.adapters.s3_objects import Listed, Stored

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "parquet")
PARQUET_BATCH_ROWS = 10_000
PARQUET_EXTRA = "pip install 'nanonets-ingest[parquet]'"

Row = dict[str, Any]


class RowsSource(Protocol):
    """Where the dataset lives: the storage port's reads (adapters.s3_objects.ObjectStore), or a stand-in."""

    def get(self, bucket: str, key: str) -> Stored | None: ...

    def list(
        self, bucket: str, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[Listed]: ...


class RowSink(Protocol):
    def write(self, row: Row) -> None: ...
    def close(self) -> None: ...


class DatasetError(IngestError):
    """An object of the dataset that is not JSON Lines of rows (written by hand?)."""


@dataclass
class ExportSummary:
    documents: int = 0
    rows: int = 0
    partitions: int = 0


# ---------------------------------------------------------------- reading


def iter_rows(
    source: RowsSource,
    bucket: str,
    analytics_prefix: str,
    *,
    since: date | None = None,
    route: str | None = None,
    summary: ExportSummary | None = None,
) -> Iterator[Row]:
    """Every row of the selected partitions, oldest partition first, in key order within one.

    Keys sort by day (`dt=YYYY-MM-DD/`), so `since` is where the listing starts, not a filter: skipped
    days cost nothing. One document's object (a few KB) is in memory at a time."""
    counts = summary if summary is not None else ExportSummary()
    prefix = rows_prefix(analytics_prefix)
    start_after = f"{prefix}dt={since.isoformat()}" if since else None  # sorts just before that day's keys
    day_seen: date | None = None
    for listed in source.list(bucket, prefix, start_after=start_after):
        day = partition_day(listed.key)
        if day is None or (since is not None and day < since):
            continue  # not a rows object of the dataset
        found = source.get(bucket, listed.key)
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


# ---------------------------------------------------------------- writing


class CsvSink:
    """UTF-8 with a byte-order mark, so spreadsheets show `€` and accents right; one row per line."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._writer = csv.DictWriter(stream, fieldnames=COLUMNS, extrasaction="ignore")
        self._writer.writeheader()

    def write(self, row: Row) -> None:
        self._writer.writerow(row)

    def close(self) -> None:
        self._stream.flush()


class JsonlSink:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, row: Row) -> None:
        ordered = {column: row.get(column) for column in COLUMNS}
        self._stream.write(json.dumps(ordered, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._stream.flush()


class ParquetSink:
    """Row groups of PARQUET_BATCH_ROWS rows under a fixed schema (the Glue table's types)."""

    def __init__(self, path: Path, batch_rows: int = PARQUET_BATCH_ROWS) -> None:
        pa, pq = import_pyarrow()
        self._pa = pa
        self._schema = pa.schema([(column, _ARROW_TYPES.get(column, "string")) for column in COLUMNS])
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")
        self._batch: list[Row] = []
        self._batch_rows = batch_rows

    def write(self, row: Row) -> None:
        self._batch.append(row)
        if len(self._batch) >= self._batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            columns = {c: [row.get(c) for row in self._batch] for c in COLUMNS}
            self._writer.write_table(self._pa.table(columns, schema=self._schema))
            self._batch = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


_ARROW_TYPES = {
    "row_index": "int32",
    "page": "int32",
    "normalized_number": "float64",
    "confidence": "float64",
}


def import_pyarrow() -> tuple[Any, Any]:
    """pyarrow is an optional extra (~170 MB): a clear usage error naming it when it is not installed."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UsageError(
            f"--format parquet needs the optional pyarrow package: {PARQUET_EXTRA} "
            "(or use --format csv / jsonl)"
        ) from None
    return pyarrow, pyarrow.parquet


def export_rows(rows: Iterator[Row], fmt: Format, output: str) -> int:
    """Write `rows` to `output` ('-' is standard output, CSV and JSON Lines only); returns the count."""
    if fmt == "parquet":
        import_pyarrow()  # fail before reading anything
    if output == "-":
        if fmt == "parquet":
            raise UsageError("--format parquet needs a file (-o FILE), not standard output")
        return _drain(rows, _text_sink(fmt, sys.stdout))
    target = Path(output)
    partial = target.with_name(f".{target.name}.partial")
    try:
        if fmt == "parquet":
            written = _drain(rows, ParquetSink(partial))
        else:
            encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
            with partial.open("w", encoding=encoding, newline="") as stream:
                written = _drain(rows, _text_sink(fmt, stream))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return written


def _text_sink(fmt: Format, stream: IO[str]) -> RowSink:
    return CsvSink(stream) if fmt == "csv" else JsonlSink(stream)


def _drain(rows: Iterator[Row], sink: RowSink) -> int:
    count = 0
    try:
        for row in rows:
            sink.write(row)
            count += 1
    finally:
        sink.close()
    return count
