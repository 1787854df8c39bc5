"""service.core.rules: the rules file (JSON or YAML) and the validation of a document by it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.core.rules import FieldRule, Rules, RulesError, load_rules, parse_rules_text, validate_document
from service.models.document import DocumentField, Table

REPO = Path(__file__).resolve().parents[2]
FUEL_RULES = REPO / "samples" / "rules" / "fuel-receipts.yaml"

CONTRACT_YAML = """
fields:
  fecha:     {type: date, required: true}
  total:     {type: amount, required: true, min_confidence: 0.5}
  matricula: {type: text, pattern: "^[0-9]{4}-?[A-Z]{3}$"}
tables:
  lineas_detalle: {required: false}
"""

CONTRACT_JSON = json.dumps(
    {
        "fields": {
            "fecha": {"type": "date", "required": True},
            "total": {"type": "amount", "required": True, "min_confidence": 0.5},
            "matricula": {"type": "text", "pattern": "^[0-9]{4}-?[A-Z]{3}$"},
        },
        "tables": {"lineas_detalle": {"required": False}},
    }
)


def _one_line_error(text: str, fmt: str, source: str = "rules") -> str:
    with pytest.raises(RulesError) as caught:
        parse_rules_text(text, fmt, source=source)
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# ------------------------------------------------------------------------------------------ parsing


def test_yaml_and_json_of_the_contract_example_are_the_same_rules() -> None:
    from_yaml = parse_rules_text(CONTRACT_YAML, "yaml")
    from_json = parse_rules_text(CONTRACT_JSON, "json")
    assert from_yaml == from_json
    assert from_yaml.fields["fecha"] == FieldRule(type="date", required=True)
    assert from_yaml.fields["total"].min_confidence == 0.5
    assert from_yaml.fields["matricula"].type == "text"
    assert from_yaml.tables["lineas_detalle"].required is False


def test_field_rule_defaults() -> None:
    rules = parse_rules_text("fields:\n  anything: {}\n", "yaml")
    rule = rules.fields["anything"]
    assert (rule.type, rule.required, rule.min_confidence, rule.pattern) == ("text", False, None, None)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [("", "yaml"), ("fields:\n", "yaml"), ("fields:\ntables:\n", "yaml"), ("null", "json"), ("{}", "json")],
)
def test_empty_rules_are_no_rules(text: str, fmt: str) -> None:
    assert parse_rules_text(text, fmt) == Rules()


@pytest.mark.parametrize(
    ("text", "fmt", "fragments"),
    [
        ('fields:\n  matricula: {pattern: "["}\n', "yaml", ["fields.matricula.pattern", "'['", "regular"]),
        ('{"fields": {"m": {"pattern": "(a"}}}', "json", ["fields.m.pattern", "'(a'"]),
        ('{"fields": {"m": {"pattern": "a\\nb("}}}', "json", ["fields.m.pattern"]),  # a newline inside
        ('{"fields": {"fecha": {"type": "datetime"}}}', "json", ["fields.fecha.type"]),
        ("fields: {total: {min_confidence: 1.5}}", "yaml", ["fields.total.min_confidence"]),
        ("fields: {total: {min_confidence: -0.1}}", "yaml", ["fields.total.min_confidence"]),
        ("fields: {total: {requird: true}}", "yaml", ["fields.total.requird"]),  # typo is not ignored
        ("fields: {total: {required: maybe}}", "yaml", ["fields.total.required"]),
        ("tables: {t: {required: true, rows: 3}}", "yaml", ["tables.t.rows"]),
        ("fields: [fecha, total]", "yaml", ["fields"]),
        ("filds: {}", "yaml", ["filds"]),
        ("- fecha\n- total\n", "yaml", ["mapping", "list"]),
        ('"just a string"', "json", ["mapping", "str"]),
        ("fields: {a: [", "yaml", ["YAML"]),
        ("fields:\n  a: {type: date\n  b: 1\n", "yaml", ["YAML"]),
        ('{"fields": ', "json", ["JSON"]),
        ("{'fields': {}}", "json", ["JSON"]),
    ],
)
def test_bad_rules_raise_one_line_naming_the_problem(text: str, fmt: str, fragments: list[str]) -> None:
    message = _one_line_error(text, fmt, source="rules file 'x.yaml'")
    assert message.startswith("rules file 'x.yaml': ")
    for fragment in fragments:
        assert fragment in message


def test_rules_error_is_a_value_error() -> None:
    assert issubclass(RulesError, ValueError)


def test_compiled_pattern() -> None:
    rules = parse_rules_text(CONTRACT_YAML, "yaml")
    pattern = rules.compiled_pattern("matricula")
    assert pattern is not None and pattern.search("1234-ABC")
    assert rules.compiled_pattern("fecha") is None
    assert rules.compiled_pattern("unknown") is None


# ------------------------------------------------------------------------------------------ loading


def test_load_the_sample_fuel_rules() -> None:
    rules = load_rules(FUEL_RULES)
    assert rules == parse_rules_text(CONTRACT_YAML, "yaml")
    assert set(rules.fields) == {"fecha", "total", "matricula"}
    assert rules.fields["fecha"].type == "date" and rules.fields["fecha"].required
    assert rules.fields["total"].type == "amount" and rules.fields["total"].min_confidence == 0.5
    assert rules.fields["matricula"].pattern == "^[0-9]{4}-?[A-Z]{3}$"
    assert set(rules.tables) == {"lineas_detalle"}


def test_load_rules_accepts_a_string_path() -> None:
    assert load_rules(str(FUEL_RULES)) == load_rules(FUEL_RULES)


def test_load_rules_reads_json_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "rules.JSON"
    path.write_text(CONTRACT_JSON, encoding="utf-8")
    assert load_rules(path) == load_rules(FUEL_RULES)


def test_load_rules_reads_yml(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(CONTRACT_YAML, encoding="utf-8")
    assert load_rules(path) == load_rules(FUEL_RULES)


def test_json_file_with_yaml_content_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(CONTRACT_YAML, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "JSON" in message


def test_missing_rules_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "cannot be read" in message


def test_bad_regex_in_a_file_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text('fields:\n  matricula: {pattern: "^[0-9{4}$"}\n', encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "fields.matricula.pattern" in message


# --------------------------------------------------------------------------------------- validation


def _field(
    value: str, normalized: object = None, confidence: float | None = 0.9, type_: str = "text"
) -> DocumentField:
    return DocumentField.model_validate(
        {"value": value, "normalized": normalized, "confidence": confidence, "type": type_}
    )


GOOD_FIELDS = {
    "fecha": _field("23/12/2025", "2025-12-23", 0.95, "date"),
    "total": _field("45,99 €", 45.99, 0.92, "amount"),
    "matricula": _field("1234-ABC", "1234-ABC", 0.88),
}


def _codes(
    fields: dict[str, DocumentField], tables: list[Table] | None = None, rules: Rules | None = None
) -> list[tuple[str, str]]:
    validation = validate_document(fields, tables or [], rules or load_rules(FUEL_RULES))
    assert validation.status == ("failed" if validation.issues else "passed")
    return [(issue.field, issue.code) for issue in validation.issues]


def test_no_rules_means_passed_whatever_the_document() -> None:
    validation = validate_document({}, [], None)
    assert validation.status == "passed" and validation.issues == []


def test_a_good_document_passes() -> None:
    assert _codes(GOOD_FIELDS) == []


def test_required_fields_missing() -> None:
    assert _codes({"matricula": GOOD_FIELDS["matricula"]}) == [("fecha", "missing"), ("total", "missing")]


def test_blank_value_counts_as_missing() -> None:
    fields = {**GOOD_FIELDS, "fecha": _field("   ", None, 0.9, "date")}
    assert _codes(fields) == [("fecha", "missing")]


def test_optional_field_missing_is_fine() -> None:
    fields = {k: v for k, v in GOOD_FIELDS.items() if k != "matricula"}
    assert _codes(fields) == []


@pytest.mark.parametrize(("confidence", "issue"), [(0.0, True), (0.49, True), (0.5, False), (0.51, False)])
def test_min_confidence(confidence: float | None, issue: bool) -> None:
    fields = {**GOOD_FIELDS, "total": _field("45,99 €", 45.99, confidence, "amount")}
    assert _codes(fields) == ([("total", "low_confidence")] if issue else [])


def test_a_value_nanonets_did_not_score_is_not_low_confidence() -> None:
    """Null confidence is "not scored" (Nanonets' score 0), not zero: there is nothing to judge."""
    fields = {**GOOD_FIELDS, "total": _field("45,99 €", 45.99, None, "amount")}
    assert _codes(fields) == []


@pytest.mark.parametrize(
    ("source", "issue"), [("model", True), ("nanonets_review", False), ("console", False)]
)
def test_min_confidence_judges_only_the_model_s_values(source: str, issue: bool) -> None:
    """A person's correction keeps the box's old score; the score says nothing about the person's value."""
    corrected = GOOD_FIELDS["total"].model_copy(
        update={"confidence": 0.31, "source": source, "predicted": "4"}
    )
    fields = {**GOOD_FIELDS, "total": corrected}
    assert _codes(fields) == ([("total", "low_confidence")] if issue else [])


def test_other_checks_still_apply_to_corrected_values() -> None:
    corrected = _field("31/02/2024", None, 0.9, "date").model_copy(update={"source": "nanonets_review"})
    assert _codes({**GOOD_FIELDS, "fecha": corrected}) == [("fecha", "bad_format")]


def test_bad_format_when_a_typed_field_cannot_be_read() -> None:
    fields = {**GOOD_FIELDS, "fecha": _field("31/02/2024", None, 0.95, "date")}
    validation = validate_document(fields, [], load_rules(FUEL_RULES))
    assert [(i.field, i.code) for i in validation.issues] == [("fecha", "bad_format")]
    assert "31/02/2024" in validation.issues[0].message and "date" in validation.issues[0].message


def test_several_issues_on_one_field() -> None:
    fields = {**GOOD_FIELDS, "total": _field("ilegible", None, 0.1, "amount")}
    assert _codes(fields) == [("total", "low_confidence"), ("total", "bad_format")]


@pytest.mark.parametrize(
    ("plate", "ok"), [("1234-ABC", True), ("1234ABC", True), ("ABC-1234", False), ("123-ABC", False)]
)
def test_pattern_mismatch(plate: str, ok: bool) -> None:
    fields = {**GOOD_FIELDS, "matricula": _field(plate, plate)}
    validation = validate_document(fields, [], load_rules(FUEL_RULES))
    assert [(i.field, i.code) for i in validation.issues] == (
        [] if ok else [("matricula", "pattern_mismatch")]
    )
    if not ok:
        assert plate in validation.issues[0].message


def test_unanchored_pattern_is_searched_not_matched() -> None:
    rules = parse_rules_text('fields: {ref: {pattern: "[0-9]{3}"}}', "yaml")
    assert _codes({"ref": _field("ref-123-x")}, rules=rules) == []
    assert _codes({"ref": _field("ref-12-x")}, rules=rules) == [("ref", "pattern_mismatch")]


def test_text_rule_never_reports_bad_format() -> None:
    rules = parse_rules_text("fields: {nota: {type: text, required: true}}", "yaml")
    assert _codes({"nota": _field("cualquier cosa", None)}, rules=rules) == []


def test_fields_without_rules_are_not_checked() -> None:
    fields = {**GOOD_FIELDS, "extra": _field("x", None, 0.01, "date")}
    assert _codes(fields) == []


def test_required_table() -> None:
    rules = parse_rules_text("tables: {lineas: {required: true}}", "yaml")
    with_rows = Table(label="lineas", page=0, rows=[{"descripcion": "Gasoil"}])
    empty = Table(label="lineas", page=0, rows=[])
    other = Table(label="otra", page=0, rows=[{"a": "b"}])
    assert _codes({}, [with_rows], rules) == []
    assert _codes({}, [empty, with_rows], rules) == []
    assert _codes({}, [empty], rules) == [("lineas", "missing")]
    assert _codes({}, [other], rules) == [("lineas", "missing")]
    assert _codes({}, [], rules) == [("lineas", "missing")]


def test_optional_table_absent_is_fine() -> None:
    assert _codes(GOOD_FIELDS, []) == []
