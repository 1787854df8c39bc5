"""service.core.routes: longest prefix wins, outputs per route, one-line errors for a bad routes file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.stack import REPO
from scripts.make_samples import SAMPLE_DOCUMENTS, webhook_bodies
from service.core.keys import KeyPolicy, output_key
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload
from service.core.routes import (
    RouteDefaults,
    Routes,
    RoutesError,
    load_routes,
    load_routes_file,
    parse_routes_text,
)
from service.core.rules import Rules, load_rules
from service.models.document import SourceRef
from service.settings import Settings, SettingsError

SAMPLES = REPO / "samples"
UUID_A = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
UUID_B = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
DEFAULTS = RouteDefaults(
    input_prefix="incoming/",
    output_prefix="normalized/",
    pages_per_minute=150,
    reserved_prefixes=(("STATE_PREFIX", "_state/"), ("ANALYTICS_PREFIX", "analytics/")),
)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "nanonets_api_key": "k",
        "nanonets_model_id": "any-model-name",
        "output_bucket": "out-bucket",
        "_env_file": None,
        **overrides,
    }
    return Settings(**values)


def routes_of(*entries: dict[str, Any], read_rules: Any = None) -> Routes:
    text = json.dumps({"routes": list(entries)})
    return parse_routes_text(text, "json", DEFAULTS, read_rules=read_rules or (lambda path: Rules()))


def route(name: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "prefix": prefix, "model_id": UUID_A, **extra}


# ---------------------------------------------------------------- choosing a route


def test_longest_matching_prefix_wins_whatever_the_order() -> None:
    routes = routes_of(
        route("all", "incoming/"),
        route("invoices", "incoming/invoices/"),
        route("urgent", "incoming/invoices/urgent/"),
    )
    assert routes.route_for("incoming/invoices/urgent/a.pdf").name == "urgent"  # type: ignore[union-attr]
    assert routes.route_for("incoming/invoices/b.pdf").name == "invoices"  # type: ignore[union-attr]
    assert routes.route_for("incoming/receipts/c.pdf").name == "all"  # type: ignore[union-attr]


def test_key_under_no_route_has_a_skip_reason_naming_the_prefixes() -> None:
    routes = routes_of(route("receipts", "incoming/receipts/"), route("invoices", "incoming/invoices/"))
    assert routes.route_for("incoming/other/a.pdf") is None
    reason = routes.skip_reason("incoming/other/a.pdf")
    assert reason is not None and "no route" in reason and "'incoming/invoices/'" in reason
    assert routes.skip_reason("incoming/invoices/a.pdf") is None


def test_prefix_is_a_folder_so_a_sibling_with_the_same_start_is_not_matched() -> None:
    routes = routes_of(route("invoices", "incoming/invoices"))
    assert routes.routes[0].prefix == "incoming/invoices/"
    assert routes.route_for("incoming/invoices-old/a.pdf") is None


def test_unset_output_prefix_mirrors_the_route_under_output_prefix() -> None:
    routes = routes_of(
        route("receipts", "incoming/receipts/"),
        route("invoices", "incoming/invoices/", output_prefix="erp/invoices"),
        route("scans", "scans/"),
    )
    by_name = {r.name: r for r in routes.routes}
    assert by_name["receipts"].output_key("incoming/receipts/fleet/a 1.pdf") == (
        "normalized/receipts/fleet/a 1.pdf.json"
    )
    assert by_name["invoices"].output_key("incoming/invoices/b.pdf") == "erp/invoices/b.pdf.json"
    assert by_name["scans"].output_key("scans/c.png") == "normalized/scans/c.png.json"


def test_without_a_routes_file_one_default_route_keeps_todays_output_keys() -> None:
    current = settings(input_prefix="in/", output_prefix="in/out/", nanonets_pages_per_minute=75)
    routes = load_routes(current)
    [only] = routes.routes
    assert (only.name, only.prefix, only.model_id, only.rules) == ("default", "in/", "any-model-name", None)
    assert only.pages_per_minute == 75 and routes.source is None
    key = "in/fleet/recibo 1.pdf"
    assert (
        only.output_key(key)
        == output_key(KeyPolicy.from_settings(current), key)
        == ("in/out/fleet/recibo 1.pdf.json")
    )


def test_default_route_loads_validation_rules() -> None:
    rules_file = str(SAMPLES / "rules" / "fuel-receipts.yaml")
    [only] = load_routes(settings(validation_rules=rules_file)).routes
    assert only.rules == load_rules(rules_file) and only.rules_file == rules_file


def test_default_route_with_an_unreadable_rules_file_is_a_routes_error() -> None:
    with pytest.raises(RoutesError) as caught:
        load_routes(settings(validation_rules="/nonexistent/rules.yaml"))
    assert "VALIDATION_RULES" in str(caught.value) and "/nonexistent/rules.yaml" in str(caught.value)


def test_page_budget_is_the_models_shared_by_its_routes() -> None:
    routes = routes_of(
        route("a", "incoming/a/", pages_per_minute=75),
        route("b", "incoming/b/"),
        route("c", "incoming/c/", model_id=UUID_B),
    )
    assert [r.pages_per_minute for r in routes.routes] == [75, 75, 150]
    assert routes.pages_per_minute(UUID_A) == 75 and routes.pages_per_minute(UUID_B) == 150
    assert routes.pages_per_minute("unknown") is None


def test_named_finds_a_route_by_name() -> None:
    routes = routes_of(route("receipts", "incoming/receipts/"))
    assert routes.named("receipts") is routes.routes[0]
    assert routes.named("nope") is None


# ---------------------------------------------------------------- the sample routes file


def test_sample_routes_file_loads_with_rules_relative_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # relative rules paths must not depend on the working directory
    routes = load_routes(settings(routes_file=str(SAMPLES / "routes.yaml")))
    receipts, invoices = routes.routes
    assert (receipts.name, receipts.model_id) == ("receipts", "emulator-model")
    assert (invoices.name, invoices.model_id) == ("invoices", "emulator-invoices")
    assert receipts.rules == load_rules(SAMPLES / "rules" / "fuel-receipts.yaml")
    assert invoices.rules == load_rules(SAMPLES / "rules" / "supplier-invoices.yaml")
    assert receipts.output_key("incoming/receipts/a.pdf") == "normalized/receipts/a.pdf.json"
    assert invoices.output_key("incoming/invoices/b.pdf") == "normalized/invoices/b.pdf.json"
    assert invoices.pages_per_minute == 75 and receipts.pages_per_minute == 150


@pytest.mark.parametrize("sample", SAMPLE_DOCUMENTS, ids=lambda s: s.name)
def test_every_sample_meets_its_expected_verdict_under_its_routes_rules(sample: Any) -> None:
    routes = load_routes(settings(routes_file=str(SAMPLES / "routes.yaml")))
    routed = routes.route_for(f"incoming/{sample.route}/{sample.name}")
    assert routed is not None and routed.name == sample.route
    expected = json.loads((SAMPLES / "expected" / f"{sample.name}.json").read_text())
    assert expected["route"] == sample.route
    [prediction] = parse_payload(webhook_bodies(sample)["prediction-result.json"])
    document = normalize_file(
        prediction,
        source=SourceRef(bucket="in", key=sample.key),
        model_id=routed.model_id,
        rules=routed.rules,
        review="pending",
        processed_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    assert document.validation.status == expected["validation"]["status"]
    codes = sorted([issue.field, issue.code] for issue in document.validation.issues)
    assert codes == sorted(expected["validation"]["codes"])


def test_each_rules_file_is_loaded_once_however_many_routes_use_it(tmp_path: Path) -> None:
    (tmp_path / "shared.yaml").write_text("fields: {total: {type: amount}}\n")
    (tmp_path / "routes.yaml").write_text(
        "routes:\n"
        f"  - {{name: a, prefix: incoming/a/, model_id: {UUID_A}, rules: shared.yaml}}\n"
        f"  - {{name: b, prefix: incoming/b/, model_id: {UUID_B}, rules: shared.yaml}}\n"
    )
    reads: list[Path] = []

    def counting(path: Path) -> Rules:
        reads.append(path)
        return load_rules(path)

    routes = load_routes_file(tmp_path / "routes.yaml", DEFAULTS, read_rules=counting)
    assert reads == [tmp_path / "shared.yaml"]
    assert routes.routes[0].rules is routes.routes[1].rules
    assert routes.routes[0].rules is not None and "total" in routes.routes[0].rules.fields


def test_a_json_routes_file_works_too(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"routes": [route("a", "incoming/a/")]}))
    assert load_routes_file(path, DEFAULTS).routes[0].name == "a"


# ---------------------------------------------------------------- invalid routes files


INVALID = {
    "unknown model id format": (
        [route("a", "incoming/a/", model_id="Fuel receipts v2")],
        ["'Fuel receipts v2'", "not a Nanonets model id"],
    ),
    "duplicate prefixes": (
        [route("a", "incoming/x/"), route("b", "incoming/x")],
        ["'a' and 'b'", "same prefix 'incoming/x/'"],
    ),
    "duplicate names": ([route("a", "incoming/x/"), route("a", "incoming/y/")], ["named 'a'"]),
    "output prefix inside an input prefix": (
        [route("a", "incoming/", output_prefix="incoming/out/")],
        ["'incoming/out/'", "overlaps the input prefix 'incoming/'"],
    ),
    "output prefix inside another route's input prefix": (
        [route("a", "incoming/a/", output_prefix="incoming/b/out/"), route("b", "incoming/b/")],
        ["route 'a'", "input prefix 'incoming/b/' of route 'b'"],
    ),
    "input prefix inside an output prefix": (
        [route("a", "incoming/a/", output_prefix="out/"), route("b", "out/again/")],
        ["'out/'", "'out/again/'"],
    ),
    "catch-all prefix": ([route("a", "")], ["overlaps the input prefix ''"]),
    "output prefix over the state": (
        [route("a", "incoming/a/", output_prefix="_state/a/")],
        ["STATE_PREFIX '_state/'"],
    ),
    "output prefix over the analytics dataset": (
        [route("a", "incoming/a/", output_prefix="analytics/")],
        ["ANALYTICS_PREFIX"],
    ),
    "two routes writing the same outputs": (
        [route("a", "incoming/a/", output_prefix="out/"), route("b", "incoming/b/", output_prefix="out/")],
        ["'a' and 'b'", "same output"],
    ),
    "nested outputs that can collide": (
        [route("a", "incoming/a/", output_prefix="out/"), route("b", "incoming/b/", output_prefix="out/x/")],
        ["'incoming/a/x/'", "'incoming/b/'"],
    ),
    "one model, two budgets": (
        [route("a", "incoming/a/", pages_per_minute=75), route("b", "incoming/b/", pages_per_minute=150)],
        ["share model", "75 and 150"],
    ),
    "unknown key": ([route("a", "incoming/a/", output_prefx="x/")], ["unknown key 'output_prefx'", "(a)"]),
    "missing model id": ([{"name": "a", "prefix": "incoming/a/"}], ["routes[0] (a).model_id is missing"]),
    "bad name": ([route("a b", "incoming/a/")], ["name"]),
    "no routes": ([], ["routes"]),
    "budget not positive": ([route("a", "incoming/a/", pages_per_minute=0)], ["pages_per_minute"]),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_routes_file_is_one_line_naming_the_file_and_the_problem(case: str, tmp_path: Path) -> None:
    entries, expected_parts = INVALID[case]
    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps({"routes": entries}))  # JSON is YAML
    with pytest.raises(RoutesError) as caught:
        load_routes_file(path, DEFAULTS, read_rules=lambda p: Rules())
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"routes file {str(path)!r}: ")
    for part in expected_parts:
        assert part in message, message


def test_missing_rules_file_is_one_line_naming_both_files(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps({"routes": [route("a", "incoming/a/", rules="rules/nope.yaml")]}))
    with pytest.raises(RoutesError) as caught:
        load_routes_file(path, DEFAULTS)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "rules/nope.yaml" in message
    assert "route 'a'" in message and "cannot be read" in message


def test_invalid_rules_file_is_reported_with_its_route(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("fields: {total: {type: money}}\n")
    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps({"routes": [route("a", "incoming/a/", rules="bad.yaml")]}))
    with pytest.raises(RoutesError) as caught:
        load_routes_file(path, DEFAULTS)
    assert "route 'a'" in str(caught.value) and "bad.yaml" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "part"),
    [("routes: [", "not valid YAML"), ("- a\n- b\n", "expected a mapping"), ("{}", "routes is missing")],
)
def test_unparseable_routes_file_is_one_line(tmp_path: Path, text: str, part: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    with pytest.raises(RoutesError) as caught:
        load_routes_file(path, DEFAULTS)
    assert part in str(caught.value) and "\n" not in str(caught.value)


def test_unreadable_routes_file_names_it() -> None:
    with pytest.raises(RoutesError) as caught:
        load_routes(settings(routes_file="/nonexistent/routes.yaml"))
    assert "'/nonexistent/routes.yaml' cannot be read" in str(caught.value)


def test_a_routes_error_stops_start_up_like_a_bad_setting() -> None:
    assert issubclass(RoutesError, SettingsError)


def test_routes_file_takes_its_defaults_from_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps({"routes": [route("a", "docs/a/")]}))
    current = settings(
        routes_file=str(path), input_prefix="docs/", output_prefix="json/", nanonets_pages_per_minute=20
    )
    [only] = load_routes(current).routes
    assert (only.output_prefix, only.pages_per_minute) == ("json/a/", 20)
    assert load_routes(current).source == f"routes file {str(path)!r}"


def test_a_bad_routes_file_stops_a_command_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps({"routes": [route("invoices", "incoming/i/", model_id="Facturas v2")]}))
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    for name, value in {
        "NANONETS_API_KEY": "k",
        "NANONETS_MODEL_ID": "m",
        "OUTPUT_BUCKET": "out-bucket",
        "ROUTES_FILE": str(path),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["status"]) == 2  # bootstrap.build stops before touching S3 or Nanonets
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "route 'invoices': model_id 'Facturas v2' is not a Nanonets model id" in error
