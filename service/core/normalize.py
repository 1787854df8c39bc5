"""Prediction pages → the normalized document of the contract. Pure, O(number of boxes).

- `value` is Nanonets' `ocr_text` unchanged; `normalized` its typed value (type from the rules file, else
  from the label, else from the text), or None when it cannot be typed.
- A label predicted more than once, on any page: the highest score is the field (ties: earliest page, then
  earliest box), the others are kept in `others`, best first. Nothing is lost.
- Each table box becomes a table of rows keyed by column label, in row order; a cell missing in a row is
  None. Cells without a label are named `col_<n>`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from service.core.rules import Rules, validate_document
from service.core.values import FieldType, infer_type, normalize_value
from service.models.document import (
    DocumentField,
    FieldCandidate,
    NanonetsRef,
    NormalizedDocument,
    Review,
    SourceRef,
    Table,
)
from service.models.nanonets import FilePrediction, Prediction, TableCell


def normalize_file(
    prediction: FilePrediction,
    *,
    source: SourceRef,
    model_id: str,
    rules: Rules | None,
    review: Review,
    processed_at: datetime,
) -> NormalizedDocument:
    candidates: dict[str, list[tuple[float, int, int, Prediction]]] = defaultdict(list)
    tables: list[Table] = []
    order = 0
    for page in prediction.pages:
        for box in page.boxes:
            if box.type == "table":
                tables.append(_table(box, page.page))
            elif box.label:
                candidates[box.label].append(
                    (box.score if box.score is not None else -1.0, page.page, order, box)
                )
            order += 1
    fields = {label: _field(label, found, rules) for label, found in candidates.items()}
    return NormalizedDocument(
        source=source,
        nanonets=NanonetsRef(
            model_id=model_id,
            request_file_id=prediction.request_file_id,
            request_metadata=prediction.request_metadata,
        ),
        pages=len(prediction.pages),
        fields=fields,
        tables=tables,
        validation=validate_document(fields, tables, rules),
        review=review,
        processed_at=processed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _field_type(label: str, text: str, rules: Rules | None) -> FieldType:
    rule = rules.fields.get(label) if rules else None
    return rule.type if rule is not None else infer_type(label, text)


def _candidate(label: str, page: int, box: Prediction, field_type: FieldType) -> FieldCandidate:
    return FieldCandidate(
        value=box.ocr_text,
        normalized=normalize_value(field_type, box.ocr_text),
        confidence=box.score,
        page=page,
        bbox=box.bbox(),
    )


def _field(label: str, found: list[tuple[float, int, int, Prediction]], rules: Rules | None) -> DocumentField:
    ranked = sorted(found, key=lambda item: (-item[0], item[1], item[2]))
    _, page, _, best = ranked[0]
    field_type = _field_type(label, best.ocr_text, rules)
    chosen = _candidate(label, page, best, field_type)
    others = [_candidate(label, p, box, field_type) for _, p, _, box in ranked[1:]]
    return DocumentField(**chosen.model_dump(), type=field_type, others=others)


def _table(box: Prediction, page: int) -> Table:
    rows: dict[int, dict[str, str | None]] = {}
    columns: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(box.cells):
        column = _column(cell)
        if column not in seen:
            seen.add(column)
            columns.append(column)
        row = cell.row if cell.row is not None else position
        rows.setdefault(row, {})[column] = cell.text
    return Table(
        label=box.label or "table",
        page=page,
        rows=[{column: rows[row].get(column) for column in columns} for row in sorted(rows)],
    )


def _column(cell: TableCell) -> str:
    if cell.label:
        return cell.label
    return f"col_{cell.col}" if cell.col is not None else "col"
