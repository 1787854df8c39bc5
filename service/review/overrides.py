"""The reviewer's decisions applied to a document. Pure: no I/O, no clock.

`apply_overrides` is what makes console edits durable: the completion use case calls it on every document it
is about to write, so a late or repeated webhook that normalizes the prediction again still writes the
reviewer's values and decision, never the model's.
"""

from __future__ import annotations

from service.core.rules import Rules, validate_document
from service.core.values import infer_type, normalize_value
from service.models.document import DocumentField, FieldType, NormalizedDocument
from service.review.models import Decision, DecisionOverride, FieldOverride, Overrides, PendingPush

# A value a person typed or confirmed is as sure as the pipeline gets; below any min_confidence it would
# keep a `low_confidence` issue the reviewer just resolved.
CONSOLE_CONFIDENCE = 1.0
MAX_VALUE_CHARS = 1000


def apply_overrides(
    document: NormalizedDocument, overrides: Overrides | None, rules: Rules | None
) -> NormalizedDocument:
    """The document with the console's values and decision on top, validated again by the same rules."""
    if overrides is None or overrides.is_empty:
        return document
    update: dict[str, object] = {}
    if overrides.fields:
        fields = dict(document.fields)
        for label, override in overrides.fields.items():
            fields[label] = console_field(label, fields.get(label), override, rules)
        update["fields"] = fields
        update["validation"] = validate_document(fields, document.tables, rules)
    if overrides.decision is not None:
        update["review"] = overrides.decision.review
    return document.model_copy(update=update)


def model_value(current: DocumentField | None, earlier: FieldOverride | None) -> str | None:
    """What the model read for a field, whoever changed its value since (output 1.1's `predicted` rule)."""
    if current is None:
        return None
    if current.source == "model":
        return current.value
    if current.source == "nanonets_review":
        return current.predicted
    return earlier.model_value if earlier is not None else current.predicted


def console_field(
    label: str, current: DocumentField | None, override: FieldOverride, rules: Rules | None
) -> DocumentField:
    """A field as the reviewer set it: re-normalized with the field's type, the model's reading in
    `predicted` where it differs, box and other candidates kept so the page still shows where it was read."""
    value = override.value
    field_type = field_type_for(label, current, value, rules)
    model = model_value(current, override)
    predicted = model if model != value else None
    if current is None:
        return DocumentField(
            value=value,
            normalized=normalize_value(field_type, value),
            confidence=CONSOLE_CONFIDENCE,
            type=field_type,
            predicted=predicted,
            source="console",
        )
    return current.model_copy(
        update={
            "value": value,
            "normalized": normalize_value(field_type, value),
            "confidence": CONSOLE_CONFIDENCE,
            "type": field_type,
            "predicted": predicted,
            "source": "console",
        }
    )


def field_type_for(label: str, current: DocumentField | None, value: str, rules: Rules | None) -> FieldType:
    rule = rules.fields.get(label) if rules else None
    if rule is not None:
        return rule.type
    return current.type if current is not None else infer_type(label, value)


def editable_labels(document: NormalizedDocument, rules: Rules | None) -> list[str]:
    """The document's fields, then the rule's fields it lacks (a reviewer may type a missing value)."""
    labels = list(document.fields)
    if rules is not None:
        labels += [label for label in rules.fields if label not in document.fields]
    return labels


def with_field_edit(
    overrides: Overrides, label: str, value: str, current: DocumentField | None, *, by: str, at: str
) -> Overrides:
    """Record the reviewer's value for `label`, and what the model had read (from `current`, the field
    as the output shows it now)."""
    earlier = overrides.fields.get(label)
    edit = FieldOverride(value=value, by=by, at=at, model_value=model_value(current, earlier))
    return overrides.model_copy(update={"fields": {**overrides.fields, label: edit}})


def with_decision(
    overrides: Overrides, review: Decision, *, reason: str | None, by: str, at: str
) -> Overrides:
    decision = DecisionOverride(review=review, reason=reason, by=by, at=at)
    return overrides.model_copy(update={"decision": decision})


def with_pending_push(
    overrides: Overrides, *, fields: dict[str, str], approve: bool, error: str | None, at: str
) -> Overrides:
    """Add what could not reach Nanonets to what is already waiting (a later value of a field wins)."""
    waiting = overrides.pending_push or PendingPush()
    if not fields and not approve and not waiting.fields and not waiting.approve:
        return overrides.model_copy(update={"pending_push": None})
    merged = PendingPush(
        fields={**waiting.fields, **fields},
        approve=waiting.approve or approve,
        attempts=waiting.attempts + 1,
        last_error=error,
        last_attempt_at=at,
    )
    return overrides.model_copy(update={"pending_push": merged})
