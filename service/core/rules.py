"""Business rules: the rules file of the contract (JSON or YAML) and the validation of a document by it.

Loading is checked at start-up: a bad rules file stops the service with one sentence naming the file and
the problem. Validation is pure. Without a rules file there is schema validation only: no issues.
`min_confidence` applies to scored values the model produced (see `_below`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.core.values import FieldType
from service.models.document import DocumentField, Table, Validation, ValidationIssue


class RulesError(ValueError):
    """The rules file cannot be used; the message names the file and the problem."""


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: FieldType = "text"
    required: bool = False
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"pattern {value!r} is not a valid regular expression: {error}") from None
        return value


class TableRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    required: bool = False


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, FieldRule] = Field(default_factory=dict)
    tables: dict[str, TableRule] = Field(default_factory=dict)

    @field_validator("fields", "tables", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    def compiled_pattern(self, label: str) -> re.Pattern[str] | None:
        rule = self.fields.get(label)
        return _compile(rule.pattern) if rule and rule.pattern else None


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern)
    return compiled


def parse_data(text: str, fmt: str) -> Any:
    """The data of a JSON or YAML text; ValueError (with the parser's own text) when it is not valid.
    PyYAML is imported for YAML only: it costs a Lambda cold start ~25 ms."""
    if fmt == "json":
        return json.loads(text)
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from error


def parse_rules_text(text: str, fmt: str, source: str = "rules") -> Rules:
    try:
        data = parse_data(text, fmt)
    except ValueError as error:
        raise RulesError(f"{source}: not valid {fmt.upper()}: {_one_line(str(error))}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RulesError(
            f"{source}: expected a mapping with 'fields' and 'tables', got {type(data).__name__}"
        )
    try:
        return Rules.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RulesError(f"{source}: {where}: {first['msg']}") from None


def load_rules(path: str | Path) -> Rules:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesError(f"rules file {str(file)!r} cannot be read: {error.strerror or error}") from None
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    return parse_rules_text(text, fmt, source=f"rules file {str(file)!r}")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def validate_document(
    fields: Mapping[str, DocumentField], tables: Sequence[Table], rules: Rules | None
) -> Validation:
    if rules is None:
        return Validation(status="passed", issues=[])
    issues: list[ValidationIssue] = []
    for label, rule in rules.fields.items():
        issues.extend(_field_issues(label, rule, fields.get(label), rules))
    for label, table_rule in rules.tables.items():
        if table_rule.required and not any(t.label == label and t.rows for t in tables):
            issues.append(
                ValidationIssue(field=label, code="missing", message=f"required table {label!r} has no rows")
            )
    return Validation(status="failed" if issues else "passed", issues=issues)


def _below(min_confidence: float | None, value: DocumentField) -> bool:
    """`min_confidence` judges the model's own guesses only. A value a person set (in Nanonets or the
    console) is not the model's, whatever score its box still carries; a value Nanonets did not score
    (confidence None, e.g. score 0) has no confidence to be low."""
    if min_confidence is None or value.source != "model" or value.confidence is None:
        return False
    return value.confidence < min_confidence


def _field_issues(
    label: str, rule: FieldRule, value: DocumentField | None, rules: Rules
) -> list[ValidationIssue]:
    if value is None or not value.value.strip():
        if rule.required:
            return [
                ValidationIssue(
                    field=label, code="missing", message=f"required field {label!r} was not found"
                )
            ]
        return []
    issues: list[ValidationIssue] = []
    if _below(rule.min_confidence, value):
        issues.append(
            ValidationIssue(
                field=label,
                code="low_confidence",
                message=f"confidence {value.confidence} is below {rule.min_confidence}",
            )
        )
    if rule.type != "text" and value.normalized is None:
        issues.append(
            ValidationIssue(
                field=label, code="bad_format", message=f"{value.value!r} cannot be read as {rule.type}"
            )
        )
    pattern = rules.compiled_pattern(label)
    if pattern is not None and not pattern.search(value.value):
        issues.append(
            ValidationIssue(
                field=label,
                code="pattern_mismatch",
                message=f"{value.value!r} does not match {pattern.pattern!r}",
            )
        )
    return issues
