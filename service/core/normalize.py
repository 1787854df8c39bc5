"""Prediction pages → the normalized document 1.1 (docs/OUTPUT.md). Pure, O(number of boxes).

- `value` is Nanonets' `ocr_text` unchanged; `normalized` its typed value (type from the rules file, else
  from the label, else from the text), or None when it cannot be typed. `confidence` is the box's score
  on the 0-1 scale (the models rescale 0-100 scores), None when Nanonets did not score it.
- Reviewed values win: on a page a person reviewed in Nanonets, its `moderated_boxes` are the values.
  Where the value then differs from the model's (best prediction of the label over the whole file),
  the field says so: `predicted` holds the model's text and `source` is `nanonets_review`. A label the
  model predicted only on reviewed pages that the reviewer removed stays visible as an empty value with
  its `predicted` text (unless that text was blank too), so an auditor sees the deletion (and a required
  field is still `missing`).
- A label predicted more than once, on any page: the highest confidence is the field (ties: earliest
  page, then earliest box), the others are kept in `others`, best first. Nothing is lost.
- Each table box becomes a table of rows keyed by column label, in row order (0- or 1-based rows alike);
  a cell missing in a row is None. Cells without a label are named `col_<n>`.
- `pages_info` lists every page with the size its box coordinates refer to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from service.core.rules import Rules, validate_document
from service.core.values import FieldType, infer_type, normalize_value
from service.models.document import (
    DocumentField,
    FieldCandidate,
    NanonetsRef,
    NormalizedDocument,
    PageInfo,
    Review,
    SourceRef,
    Table,
)
from service.models.nanonets import FilePrediction, PagePrediction, Prediction, TableCell


@dataclass(frozen=True)
class _Found:
    """One box of a label, with what ranks it: higher confidence, then earlier page, then earlier box."""

    box: Prediction
    page: int
    order: int
    reviewed: bool  # from a page's moderated_boxes

    def rank(self) -> tuple[float, int, int]:
        return (-(self.box.score if self.box.score is not None else -1.0), self.page, self.order)


def normalize_file(
    prediction: FilePrediction,
    *,
    source: SourceRef,
    model_id: str,
    rules: Rules | None,
    review: Review,
    processed_at: datetime,
) -> NormalizedDocument:
    final = _by_label(prediction.pages, reviewed_values=True)
    modelled = _by_label(prediction.pages, reviewed_values=False) if prediction.reviewed else final
    fields = {label: _field(label, ranked, rules, modelled.get(label)) for label, ranked in final.items()}
    for label, ranked in modelled.items():
        if label not in fields and ranked[0].box.ocr_text.strip():
            fields[label] = _removed_field(label, ranked[0], rules)
    tables = [
        _table(box, page.page) for page in prediction.pages for box in page.final_boxes if box.type == "table"
    ]
    return NormalizedDocument(
        source=source,
        nanonets=NanonetsRef(
            model_id=model_id,
            request_file_id=prediction.request_file_id,
            request_metadata=prediction.request_metadata,
        ),
        pages=len(prediction.pages),
        pages_info=[PageInfo(page=p.page, width=p.width, height=p.height) for p in prediction.pages],
        fields=fields,
        tables=tables,
        validation=validate_document(fields, tables, rules),
        review=review,
        processed_at=processed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _by_label(pages: Iterable[PagePrediction], *, reviewed_values: bool) -> dict[str, list[_Found]]:
    """Field boxes by label, best first: the output's values, or (reviewed_values=False) the model's."""
    found: dict[str, list[_Found]] = defaultdict(list)
    order = 0
    for page in pages:
        reviewed = reviewed_values and page.reviewed
        for box in page.final_boxes if reviewed else page.boxes:
            if box.type == "field" and box.label:
                found[box.label].append(_Found(box, page.page, order, reviewed))
            order += 1
    return {label: sorted(boxes, key=_Found.rank) for label, boxes in found.items()}


def _field_type(label: str, text: str, rules: Rules | None) -> FieldType:
    rule = rules.fields.get(label) if rules else None
    return rule.type if rule is not None else infer_type(label, text)


def _candidate(found: _Found, field_type: FieldType) -> FieldCandidate:
    return FieldCandidate(
        value=found.box.ocr_text,
        normalized=normalize_value(field_type, found.box.ocr_text),
        confidence=found.box.score,
        page=found.page,
        bbox=found.box.bbox(),
    )


def _field(
    label: str, ranked: list[_Found], rules: Rules | None, modelled: list[_Found] | None
) -> DocumentField:
    best = ranked[0]
    field_type = _field_type(label, best.box.ocr_text, rules)
    chosen = _candidate(best, field_type)
    others = [_candidate(found, field_type) for found in ranked[1:]]
    field = DocumentField(**chosen.model_dump(), type=field_type, others=others)
    predicted = modelled[0].box.ocr_text if modelled else None
    if best.reviewed and (predicted is None or predicted.strip() != best.box.ocr_text.strip()):
        return field.model_copy(update={"predicted": predicted, "source": "nanonets_review"})
    return field


def _removed_field(label: str, predicted: _Found, rules: Rules | None) -> DocumentField:
    """The model predicted the label only on reviewed pages, and the reviewer removed it there."""
    return DocumentField(
        value="",
        page=predicted.page,
        type=_field_type(label, predicted.box.ocr_text, rules),
        predicted=predicted.box.ocr_text,
        source="nanonets_review",
    )


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
        rows=[_row(rows[row], columns) for row in sorted(rows)],
    )


def _row(cells: Mapping[str, str | None], columns: list[str]) -> dict[str, str | None]:
    return {column: cells.get(column) for column in columns}


def _column(cell: TableCell) -> str:
    if cell.label:
        return cell.label
    return f"col_{cell.col}" if cell.col is not None else "col"
