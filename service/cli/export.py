"""`nanonets-ingest export --format csv|jsonl|parquet [--since DATE] [--route NAME] -o FILE`: the analytics
dataset (core/analytics.py) as one file, for people without Athena.

Streaming, in constant memory whatever the number of documents: the dataset is read a document at a time
(`AnalyticsDataset.rows`), each row is written as it comes (Parquet: in row groups of
`PARQUET_BATCH_ROWS`). `--since` selects partitions (the day a document was first processed, inclusive);
`--route` selects rows. The file appears only when the export is complete (written beside it, then
renamed), so a failed run never leaves half a spreadsheet behind.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from service.core.analytics import COLUMNS
from service.errors import UsageError
from service.ports import ExportSummary

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "parquet")
PARQUET_BATCH_ROWS = 10_000
PARQUET_EXTRA = "pip install 'nanonets-ingest[parquet]'"

Row = dict[str, Any]
Commands = argparse._SubParsersAction  # a private name, but the only type add_subparsers() has


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        help="the analytics dataset (one row per field / table row) as CSV, JSON Lines or Parquet",
    )
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument(
        "--since",
        type=_day,
        metavar="DATE",
        help="only documents first processed on or after DATE (YYYY-MM-DD)",
    )
    export.add_argument("--route", metavar="NAME", help="only rows of this route")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="'-' for standard output")
    export.set_defaults(handler=run_export)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def run_export(args: argparse.Namespace) -> int:
    if args.format == "parquet":
        import_pyarrow()  # before settings and S3: the missing extra is the first thing to say
    from service.cli.ops import build_service

    service = build_service()
    summary = ExportSummary()
    rows = service.analytics.rows(since=args.since, route=args.route, summary=summary)
    written = export_rows(rows, args.format, args.output)
    where = "standard output" if args.output == "-" else args.output
    days = f"{summary.partitions} day" + ("" if summary.partitions == 1 else "s")
    print(f"exported {written} rows of {summary.documents} documents ({days}) to {where}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- writing


class RowSink(Protocol):
    def write(self, row: Row) -> None: ...
    def close(self) -> None: ...


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
