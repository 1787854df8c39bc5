"""The flat dataset for analysts: one row per field and one per table row of every normalized document.

Rows are JSON Lines, one object per document, at

    <ANALYTICS_PREFIX>rows/dt=<YYYY-MM-DD>/<sha256(bucket, key)>.jsonl     (in OUTPUT_BUCKET)

`dt` is the date the document was FIRST processed, and it stays that date: a document written again (an
approval, a replay, a new version of the source) overwrites the same object, so Athena never sees stale
duplicate rows of it and no delete is needed. The partition says when a document entered the dataset;
`processed_at` in each row says when its current content was made. The Glue table in serverless.yml reads
this layout as it is (JSON SerDe, partition projection on dt). Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from json.encoder import encode_basestring as _json_text  # keeps non-ASCII, as pydantic's JSON does
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

from service.models.document import NormalizedDocument, trusted
from service.models.source import object_digest

ROWS_FOLDER = "rows/"
PARTITION_PATTERN = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")
# `json.dumps(cells, ensure_ascii=False)` without building an encoder for every table row.
_cells_json = json.JSONEncoder(ensure_ascii=False).encode

# The columns, in this order, in CSV exports, Parquet exports and the Glue table (docs list their types).
COLUMNS: tuple[str, ...] = (
    "document_bucket",
    "document_key",
    "route",
    "record_type",
    "field",
    "row_index",
    "value",
    "normalized",
    "normalized_number",
    "type",
    "confidence",
    "page",
    "issues",
    "validation_status",
    "review",
    "processed_at",
    "request_file_id",
    "model_id",
)


class AnalyticsRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    document_bucket: str
    document_key: str
    route: str | None
    record_type: Literal["field", "table_row"]
    field: str  # the field label, or the table label for a table row
    row_index: int | None  # table rows only, from 0
    value: str | None  # the text read (a table row: its cells as a JSON object)
    normalized: str | None  # the typed value as text: ISO date, or the number
    normalized_number: float | None  # amounts, quantities and numbers, to sum in SQL
    type: str  # date, amount, quantity, number, text; "table" for a table row
    confidence: float | None
    page: int | None
    issues: str | None  # validation issue codes of this field, comma-separated
    validation_status: Literal["passed", "failed"]
    review: str
    processed_at: str
    request_file_id: str
    model_id: str


def document_rows(document: NormalizedDocument, route: str | None) -> Iterator[AnalyticsRow]:
    """The document's rows, made with `trusted` (not validated again): every value comes from the document,
    which is a validated model of the same types (a date or number as text, its confidence, its page).
    The definition of a row; `rows_jsonl` writes the same rows without making them."""
    issues = _issues_by_field(document)
    head = {"document_bucket": document.source.bucket, "document_key": document.source.key, "route": route}
    tail = {
        "validation_status": document.validation.status,
        "review": document.review,
        "processed_at": document.processed_at,
        "request_file_id": document.nanonets.request_file_id,
        "model_id": document.nanonets.model_id,
    }
    for label, found in document.fields.items():
        yield trusted(
            AnalyticsRow,
            {
                **head,
                "record_type": "field",
                "field": label,
                "row_index": None,
                "value": found.value,
                "normalized": None if found.normalized is None else str(found.normalized),
                "normalized_number": _number(found.normalized),
                "type": found.type,
                "confidence": found.confidence,
                "page": found.page,
                "issues": issues.get(label),
                **tail,
            },
        )
    for table in document.tables:
        table_issues = issues.get(table.label)
        for index, cells in enumerate(table.rows):
            yield trusted(
                AnalyticsRow,
                {
                    **head,
                    "record_type": "table_row",
                    "field": table.label,
                    "row_index": index,
                    "value": _cells_json(cells),
                    "normalized": None,
                    "normalized_number": None,
                    "type": "table",
                    "confidence": None,
                    "page": table.page,
                    "issues": table_issues,
                    **tail,
                },
            )


def rows_jsonl(document: NormalizedDocument, route: str | None) -> bytes:
    """`document_rows` as JSON Lines, byte for byte what each row's `model_dump_json()` gives (a test holds
    the two to that), written straight from the document. Per row that is a fifth of the work of making
    the model and serializing it (a ten-page document: 1.0 M instructions instead of 2.2 M), and the
    columns every row of a document shares are encoded once."""
    issues = _issues_by_field(document)
    source, nanonets = document.source, document.nanonets
    head = (
        f'{{"document_bucket":{_json_text(source.bucket)},"document_key":{_json_text(source.key)},'
        f'"route":{_json_or_null(route)},'
    )
    tail = (
        f'"validation_status":{_json_text(document.validation.status)},"review":{_json_text(document.review)},'
        f'"processed_at":{_json_text(document.processed_at)},'
        f'"request_file_id":{_json_text(nanonets.request_file_id)},"model_id":{_json_text(nanonets.model_id)}}}\n'
    )
    lines = []
    for label, found in document.fields.items():
        normalized = found.normalized
        lines.append(
            f'{head}"record_type":"field","field":{_json_text(label)},"row_index":null,'
            f'"value":{_json_text(found.value)},'
            f'"normalized":{"null" if normalized is None else _json_text(str(normalized))},'
            f'"normalized_number":{_json_float(_number(normalized))},"type":{_json_text(found.type)},'
            f'"confidence":{_json_float(found.confidence)},"page":{_json_int(found.page)},'
            f'"issues":{_json_or_null(issues.get(label))},{tail}'
        )
    for table in document.tables:
        start = f'{head}"record_type":"table_row","field":{_json_text(table.label)},"row_index":'
        end = (
            f',"normalized":null,"normalized_number":null,"type":"table","confidence":null,'
            f'"page":{_json_int(table.page)},"issues":{_json_or_null(issues.get(table.label))},{tail}'
        )
        for index, cells in enumerate(table.rows):
            lines.append(f'{start}{index},"value":{_json_text(_cells_json(cells))}{end}')
    return "".join(lines).encode("utf-8")


def _issues_by_field(document: NormalizedDocument) -> dict[str, str]:
    """Each label's validation issue codes, comma-separated, in the order found."""
    codes: dict[str, list[str]] = {}
    for issue in document.validation.issues:
        codes.setdefault(issue.field, []).append(issue.code)
    return {label: ",".join(found) for label, found in codes.items()}


def _json_or_null(text: str | None) -> str:
    return "null" if text is None else _json_text(text)


def _json_float(number: float | None) -> str:
    # pydantic's own float text (1e16, not Python's 1e+16), and null for NaN and infinities as it writes
    return "null" if number is None else to_json(float(number), inf_nan_mode="null").decode()


def _json_int(number: int | None) -> str:
    return "null" if number is None else str(number)


def rows_prefix(analytics_prefix: str) -> str:
    """Where the table lives (its LOCATION): `analytics/rows/`."""
    return analytics_prefix + ROWS_FOLDER


def partition_prefix(analytics_prefix: str, day: date) -> str:
    return f"{rows_prefix(analytics_prefix)}dt={day.isoformat()}/"


def rows_key(analytics_prefix: str, day: date, bucket: str, key: str) -> str:
    """The one object holding a document's rows; its name is stable for the document's life."""
    return f"{partition_prefix(analytics_prefix, day)}{object_digest(bucket, key)}.jsonl"


def partition_day(key: str) -> date | None:
    """The dt of an analytics key or partition folder; None when the key has no dt=YYYY-MM-DD/."""
    match = PARTITION_PATTERN.search(key)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def processing_day(processed_at: str) -> date:
    """The UTC date of a document's processed_at (ISO 8601 with Z)."""
    return date.fromisoformat(processed_at[:10])


def _number(normalized: str | float | None) -> float | None:
    if isinstance(normalized, bool) or not isinstance(normalized, int | float):
        return None
    return float(normalized)
