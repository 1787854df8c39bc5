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

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple, get_args

from service.core.collector import collector_paused
from service.core.rules import Rules, validate_document
from service.core.values import FieldType, infer_type, normalize_value
from service.models.document import (
    SCHEMA_MINOR,
    SCHEMA_VERSION,
    DocumentField,
    FieldCandidate,
    NanonetsRef,
    NormalizedDocument,
    PageInfo,
    Review,
    SourceRef,
    Table,
    trusted,
)
from service.models.nanonets import AnyBox, FilePrediction, PagePrediction
from service.models.nanonets_lean import BoxView

# The document's parts are made with `trusted` (no validation): every value in them is one this module
# computed from a validated `FilePrediction`, of the type and range the part declares:
# - `value`, `predicted`: a box's `ocr_text`, a str ("" for null) in both box views;
# - `normalized`: what `normalize_value` returns (str, float or None);
# - `confidence`: a box's `score`, `score_to_confidence`'s None or 0 < c <= 1;
# - `page`: a `PagePrediction.page`, an int >= 0 (payloads only makes pages of non-negative indexes);
# - `bbox`: a box's `bbox()`, None or four floats;
# - `type`: a rule's validated `FieldType`, else `infer_type`'s; `source`: a literal of this module;
# - table labels and columns: str; cells: the cell's text, a str ("" for null), or None where missing;
# - the document: the above, and what the caller passes where it is of the declared type (a `SourceRef`,
#   a str model id, a `Review`); anything else is validated, and refused as before.
_new_tuple = tuple.__new__
_REVIEWS = frozenset(get_args(Review))


class _Found(NamedTuple):
    """One box of a label, found in page and box order (`_by_label`)."""

    box: AnyBox
    text: str
    score: float | None
    page: int
    reviewed: bool  # from a page's moderated_boxes


def normalize_file(
    prediction: FilePrediction,
    *,
    source: SourceRef,
    model_id: str,
    rules: Rules | None,
    review: Review,
    processed_at: datetime,
) -> NormalizedDocument:
    with collector_paused():  # thousands of candidates, no cycle: see service.core.collector
        return _document(prediction, source, model_id, rules, review, processed_at)


def _document(
    prediction: FilePrediction,
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
        if label not in fields and ranked[0].text.strip():
            fields[label] = _removed_field(label, ranked[0], rules)
    tables = [
        _table(box, page.page) for page in prediction.pages for box in page.final_boxes if box.type == "table"
    ]
    nanonets = {
        "model_id": model_id,
        "request_file_id": prediction.request_file_id,
        "request_metadata": prediction.request_metadata,
    }
    values = {
        "schema_version": SCHEMA_VERSION,
        "schema_minor": SCHEMA_MINOR,
        "source": source,
        "nanonets": nanonets,
        "pages": len(prediction.pages),
        "pages_info": [_page_info(page) for page in prediction.pages],
        "fields": fields,
        "tables": tables,
        "validation": validate_document(fields, tables, rules),
        "review": review,
        "processed_at": _utc_stamp(processed_at),
    }
    if type(model_id) is str and review in _REVIEWS and isinstance(source, SourceRef):
        values["nanonets"] = trusted(NanonetsRef, nanonets)
        return trusted(NormalizedDocument, values)
    # What the caller passed is not what the document takes: validated, refused as it always was.
    return NormalizedDocument.model_validate(values)


def _page_info(page: PagePrediction) -> PageInfo:
    values = {"page": page.page, "width": page.width, "height": page.height}
    if page.page >= 0 and _unset_or_positive(page.width) and _unset_or_positive(page.height):
        return trusted(PageInfo, values)
    return PageInfo.model_validate(values)  # a page payloads would not make: refused as before


def _unset_or_positive(size: float | None) -> bool:
    return size is None or size > 0


def _by_label(pages: Iterable[PagePrediction], *, reviewed_values: bool) -> dict[str, list[_Found]]:
    """Field boxes by label, best first: the output's values, or (reviewed_values=False) the model's."""
    found: dict[str, list[_Found]] = {}
    for page in pages:
        reviewed = reviewed_values and page.reviewed
        index = page.page
        for box in page.final_boxes if reviewed else page.boxes:
            label, kind, score, text = box.reading() if type(box) is BoxView else _reading(box)
            if label and kind == "field":
                # tuple.__new__: the NamedTuple's own constructor is a Python function, run per box
                candidate = _new_tuple(_Found, (box, text, score, index, reviewed))
                same_label = found.get(label)
                if same_label is None:
                    found[label] = [candidate]
                else:
                    same_label.append(candidate)
    # Best first: higher confidence, then earlier page, then earlier box (each list is in box order and the
    # sort is stable). The keys exist for one label's sort at a time, not one per box for the whole
    # document: on a thousand pages those were a tenth of the peak memory.
    for ranked in found.values():
        ranked.sort(key=_rank)
    return found


def _rank(found: _Found) -> tuple[float, int]:
    """Higher confidence first, a box Nanonets did not score after every scored one (scores are 0-1);
    then the earlier page."""
    score = found.score
    return (-score if score is not None else 1.0, found.page)


def _reading(box: AnyBox) -> tuple[str, str, float | None, str]:
    return box.label, box.type, box.score, box.ocr_text


def _field_type(label: str, text: str, rules: Rules | None) -> FieldType:
    rule = rules.fields.get(label) if rules else None
    return rule.type if rule is not None else infer_type(label, text)


def _candidate(found: _Found, field_type: FieldType) -> FieldCandidate:
    return trusted(
        FieldCandidate,
        {
            "value": found.text,
            "normalized": normalize_value(field_type, found.text),
            "confidence": found.score,
            "page": found.page,
            "bbox": found.box.bbox(),
        },
    )


def _field(
    label: str, ranked: list[_Found], rules: Rules | None, modelled: list[_Found] | None
) -> DocumentField:
    best = ranked[0]
    field_type = _field_type(label, best.text, rules)
    predicted = modelled[0].text if modelled else None
    changed = best.reviewed and (predicted is None or predicted.strip() != best.text.strip())
    return trusted(
        DocumentField,
        {
            "value": best.text,
            "normalized": normalize_value(field_type, best.text),
            "confidence": best.score,
            "page": best.page,
            "bbox": best.box.bbox(),
            "type": field_type,
            "others": [_candidate(found, field_type) for found in ranked[1:]],
            "predicted": predicted if changed else None,
            "source": "nanonets_review" if changed else "model",
        },
    )


def _removed_field(label: str, predicted: _Found, rules: Rules | None) -> DocumentField:
    """The model predicted the label only on reviewed pages, and the reviewer removed it there."""
    return trusted(
        DocumentField,
        {
            "value": "",
            "normalized": None,
            "confidence": None,
            "page": predicted.page,
            "bbox": None,
            "type": _field_type(label, predicted.text, rules),
            "others": [],
            "predicted": predicted.text,
            "source": "nanonets_review",
        },
    )


def _table(box: AnyBox, page: int) -> Table:
    rows: dict[int, dict[str, str | None]] = {}
    columns: dict[str, None] = {}  # in first-seen order
    for position, (label, col, row, text) in enumerate(box.cell_values()):
        column = label if label else (f"col_{col}" if col is not None else "col")
        columns[column] = None
        key = position if row is None else row
        cells = rows.get(key)
        if cells is None:
            rows[key] = {column: text}
        else:
            cells[column] = text
    order = list(columns)
    return trusted(
        Table,
        {
            "label": box.label or "table",
            "page": page,
            # A row whose cells came in column order is already the row (the common case): kept as is.
            "rows": [
                cells if list(cells) == order else {column: cells.get(column) for column in order}
                for _, cells in sorted(rows.items())
            ],
        },
    )


def _utc_stamp(when: datetime) -> str:
    """`2026-11-25T08:00:00Z` (what `strftime("%Y-%m-%dT%H:%M:%SZ")` writes, at a third of its cost)."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
