"""Routes: which Nanonets model and which rules a source key goes to, and where its output lands.

A routes file (ROUTES_FILE, YAML or JSON) lists routes; the longest prefix matching a key wins, and a key
under no route is skipped with a reason. Without a routes file there is one route, "default", built from
NANONETS_MODEL_ID, VALIDATION_RULES, INPUT_PREFIX and OUTPUT_PREFIX: the service as it was before routes.

A routes file is checked whole at start-up and stops it with one line naming the file and the problem
(`RoutesError` is a `SettingsError`, so every entry point already reports it that way):
- a model id that is not a Nanonets model id. Nanonets model ids are UUIDs; ids of the form
  `emulator-<name>` are accepted too, because the local emulator (demo, tests) knows its models by such
  names. Anything else is almost certainly a typo or a model name pasted instead of its id.
- two routes with the same name or the same prefix;
- a rules file that cannot be read or is invalid (each file is loaded once, however many routes use it);
- an output prefix inside an input prefix or an input prefix inside an output prefix (outputs would be
  submitted again), or an output prefix overlapping STATE_PREFIX or ANALYTICS_PREFIX;
- two routes whose outputs could land on the same key;
- two routes of one model with different pages_per_minute (the budget is the model's, not the route's);
- an unknown key (a misspelt `output_prefx` would otherwise be silently ignored).

Relative `rules` paths are read relative to the routes file's folder, so a routes file and its rules
travel together. The checks are pure; `load_routes` and `load_routes_file` read the files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.core.keys import DEFAULT_ROUTE, RouteKeys, longest_prefix, output_key_under, prefix_shape
from service.core.rules import Rules, RulesError, load_rules, parse_data
from service.settings import SettingsError

if TYPE_CHECKING:
    from service.settings import Settings

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
MODEL_ID_PATTERN = re.compile(rf"^({UUID}|emulator-[a-z0-9][a-z0-9-]{{0,62}})$")
ROUTE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

RulesLoader = Callable[[Path], Rules]


class RoutesError(SettingsError):
    """The routes (file) cannot be used; the message is one line naming the file and the problem."""


class RouteEntry(BaseModel):
    """One route as written in the routes file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=ROUTE_NAME_PATTERN)
    prefix: str
    model_id: str = Field(min_length=1)
    rules: str | None = None
    output_prefix: str | None = None
    pages_per_minute: int | None = Field(default=None, gt=0)

    @field_validator("prefix", "output_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return None if value is None else prefix_shape(value)


class RoutesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[RouteEntry] = Field(min_length=1)


class Route(BaseModel):
    """A route ready to use: output prefix and page budget resolved, rules loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    prefix: str
    model_id: str
    rules_file: str | None = None
    rules: Rules | None = None
    output_prefix: str
    pages_per_minute: int = Field(gt=0)

    def output_key(self, source_key: str) -> str:
        """`incoming/invoices/a.pdf` → `normalized/invoices/a.pdf.json` (the route's output prefix)."""
        return output_key_under(self.prefix, self.output_prefix, source_key)


class Routes(BaseModel):
    model_config = ConfigDict(frozen=True)

    routes: tuple[Route, ...] = Field(min_length=1)
    source: str | None = Field(default=None, description="the routes file; None for the default route")

    def route_for(self, key: str) -> Route | None:
        """The route of the longest prefix `key` starts with; None when it is under no route."""
        return longest_prefix(self.routes, key, lambda route: route.prefix)

    def skip_reason(self, key: str) -> str | None:
        if self.route_for(key) is not None:
            return None
        prefixes = ", ".join(repr(route.prefix) for route in self.routes)
        return f"under no route (prefixes {prefixes})"

    def named(self, name: str) -> Route | None:
        return next((route for route in self.routes if route.name == name), None)

    def recorded(self, name: str, key: str) -> Route | None:
        """The route a ledger record names; one gone from the routes file since: the route of its key now."""
        return self.named(name) or self.route_for(key)

    def pages_per_minute(self, model_id: str) -> int | None:
        """The page budget of a model (routes of one model share one budget)."""
        return next((r.pages_per_minute for r in self.routes if r.model_id == model_id), None)

    def model_ids(self) -> list[str]:
        """Every model the routes submit to, once each, in the order of the routes."""
        return list(dict.fromkeys(route.model_id for route in self.routes))

    def names_of_model(self, model_id: str) -> list[str]:
        return [route.name for route in self.routes if route.model_id == model_id]

    def route_keys(self) -> tuple[RouteKeys, ...]:
        """Where each route reads and writes, for the key policy (core/keys.py)."""
        return tuple(RouteKeys(route.name, route.prefix, route.output_prefix) for route in self.routes)


class RouteDefaults(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
    """What a route of the file takes from the settings when it does not say."""

    input_prefix: str = "incoming/"
    output_prefix: str = "normalized/"
    pages_per_minute: int = 150
    reserved_prefixes: tuple[tuple[str, str], ...] = ()  # (setting name, prefix) outputs must avoid

    @classmethod
    def from_settings(cls, settings: Settings) -> RouteDefaults:
        return cls(
            input_prefix=settings.input_prefix,
            output_prefix=settings.output_prefix,
            pages_per_minute=settings.nanonets_pages_per_minute,
            reserved_prefixes=(
                ("STATE_PREFIX", settings.state_prefix),
                ("ANALYTICS_PREFIX", settings.analytics_prefix),
            ),
        )

    def output_prefix_for(self, route_prefix: str) -> str:
        """Unset output_prefix: the route's place under INPUT_PREFIX, mirrored under OUTPUT_PREFIX
        (`incoming/receipts/` → `normalized/receipts/`), so two routes never share outputs by default."""
        return self.output_prefix + route_prefix.removeprefix(self.input_prefix)


# ---------------------------------------------------------------- loading


def load_routes(settings: Settings) -> Routes:
    """The routes of ROUTES_FILE, or the one default route from the settings. Raises `RoutesError`."""
    if settings.routes_file:
        return load_routes_file(settings.routes_file, RouteDefaults.from_settings(settings))
    return default_routes(settings)


def default_routes(settings: Settings, read_rules: RulesLoader = load_rules) -> Routes:
    """Today's single route. Not checked like a routes file: OUTPUT_PREFIX may lie inside INPUT_PREFIX
    (the contract allows it; the key filter never submits outputs) and any model id is accepted."""
    rules = None
    if settings.validation_rules:
        try:
            rules = read_rules(Path(settings.validation_rules))
        except RulesError as error:
            raise RoutesError(f"VALIDATION_RULES: {error}") from None
    route = Route(
        name=DEFAULT_ROUTE,
        prefix=settings.input_prefix,
        model_id=settings.nanonets_model_id,
        rules_file=settings.validation_rules,
        rules=rules,
        output_prefix=settings.output_prefix,
        pages_per_minute=settings.nanonets_pages_per_minute,
    )
    return Routes(routes=(route,))


def load_routes_file(
    path: str | Path, defaults: RouteDefaults, read_rules: RulesLoader = load_rules
) -> Routes:
    file = Path(path)
    source = f"routes file {str(file)!r}"
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise RoutesError(f"{source} cannot be read: {error.strerror or error}") from None
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    return parse_routes_text(text, fmt, defaults, source=source, base_dir=file.parent, read_rules=read_rules)


def parse_routes_text(
    text: str,
    fmt: str,
    defaults: RouteDefaults,
    *,
    source: str = "routes file",
    base_dir: Path = Path("."),
    read_rules: RulesLoader = load_rules,
) -> Routes:
    entries = _parse_entries(text, fmt, source)
    problem = first_problem(entries, defaults)
    if problem:
        raise RoutesError(f"{source}: {problem}")
    loaded: dict[Path, Rules] = {}
    budgets = _model_budgets(entries)
    routes = []
    for entry in entries:
        rules_path = (base_dir / entry.rules) if entry.rules else None
        rules = None
        if rules_path is not None:
            if rules_path not in loaded:
                try:
                    loaded[rules_path] = read_rules(rules_path)
                except RulesError as error:
                    raise RoutesError(f"{source}: route {entry.name!r}: {error}") from None
            rules = loaded[rules_path]
        routes.append(
            Route(
                name=entry.name,
                prefix=entry.prefix,
                model_id=entry.model_id,
                rules_file=str(rules_path) if rules_path else None,
                rules=rules,
                output_prefix=_output_prefix(entry, defaults),
                pages_per_minute=budgets.get(entry.model_id, defaults.pages_per_minute),
            )
        )
    return Routes(routes=tuple(routes), source=source)


def _parse_entries(text: str, fmt: str, source: str) -> list[RouteEntry]:
    try:
        data = parse_data(text, fmt)
    except ValueError as error:
        raise RoutesError(f"{source}: not valid {fmt.upper()}: {_one_line(str(error))}") from None
    if not isinstance(data, dict):
        raise RoutesError(f"{source}: expected a mapping with a 'routes' list, got {type(data).__name__}")
    try:
        return list(RoutesFile.model_validate(data).routes)
    except ValidationError as error:
        raise RoutesError(f"{source}: {_describe(error, data)}") from None


def _describe(error: ValidationError, data: dict[str, Any]) -> str:
    first = error.errors()[0]
    loc = first["loc"]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    if len(loc) >= 2 and isinstance(loc[1], int):
        name = _entry_name(data, loc[1])
        if name:
            where = where.replace(f"routes[{loc[1]}]", f"routes[{loc[1]}] ({name})", 1)
    if first["type"] == "extra_forbidden":
        return f"unknown key {str(loc[-1])!r} at {where}"
    if first["type"] == "missing":
        return f"{where} is missing"
    return f"{where}: {_one_line(first['msg'])}"


def _entry_name(data: dict[str, Any], index: int) -> str | None:
    routes = data.get("routes")
    if isinstance(routes, list) and index < len(routes) and isinstance(routes[index], dict):
        name = routes[index].get("name")
        return str(name) if name else None
    return None


def _model_budgets(entries: list[RouteEntry]) -> dict[str, int]:
    """The page budget a model's routes declare (checked to agree): every route of the model gets it."""
    return {e.model_id: e.pages_per_minute for e in reversed(entries) if e.pages_per_minute is not None}


def _output_prefix(entry: RouteEntry, defaults: RouteDefaults) -> str:
    return (
        entry.output_prefix if entry.output_prefix is not None else defaults.output_prefix_for(entry.prefix)
    )


# ---------------------------------------------------------------- checks (pure)


def first_problem(entries: list[RouteEntry], defaults: RouteDefaults) -> str | None:
    """The first reason the routes cannot be used, as a sentence; None when they are fine."""
    checks = (
        _bad_model_id,
        _duplicate_names,
        _duplicate_prefixes,
        _prefix_overlaps,
        _output_collisions,
        _budget_conflicts,
    )
    for check in checks:
        problem = check(entries, defaults)
        if problem:
            return problem
    return None


def _bad_model_id(entries: list[RouteEntry], _: RouteDefaults) -> str | None:
    for entry in entries:
        if not MODEL_ID_PATTERN.match(entry.model_id):
            return (
                f"route {entry.name!r}: model_id {entry.model_id!r} is not a Nanonets model id (a UUID "
                "such as 3fa85f64-5717-4562-b3fc-2c963f66afa6, or emulator-<name> for the local emulator)"
            )
    return None


def _duplicate_names(entries: list[RouteEntry], _: RouteDefaults) -> str | None:
    for first, second in _pairs(entries):
        if first.name == second.name:
            return f"two routes are named {first.name!r}"
    return None


def _duplicate_prefixes(entries: list[RouteEntry], _: RouteDefaults) -> str | None:
    for first, second in _pairs(entries):
        if first.prefix == second.prefix:
            return f"routes {first.name!r} and {second.name!r} have the same prefix {first.prefix!r}"
    return None


def _prefix_overlaps(entries: list[RouteEntry], defaults: RouteDefaults) -> str | None:
    outputs = [(entry, _output_prefix(entry, defaults)) for entry in entries]
    for entry, output in outputs:
        for other in entries:
            if output.startswith(other.prefix) or other.prefix.startswith(output):
                return (
                    f"route {entry.name!r}: output prefix {output!r} overlaps the input prefix "
                    f"{other.prefix!r} of route {other.name!r} (outputs would be submitted again)"
                )
        for setting, reserved in defaults.reserved_prefixes:
            if output.startswith(reserved) or reserved.startswith(output):
                return f"route {entry.name!r}: output prefix {output!r} overlaps {setting} {reserved!r}"
    return None


def _output_collisions(entries: list[RouteEntry], defaults: RouteDefaults) -> str | None:
    """Route a writes key pa+r to oa+r. If route b's outputs lie under a's (ob = oa+s), a key pa+s+r of
    route a and the key pb+r of route b both map to ob+r, unless pa+s IS pb (then b wins that key)."""
    outputs = {entry.name: _output_prefix(entry, defaults) for entry in entries}
    for a in entries:
        for b in entries:
            if a is b or not outputs[b.name].startswith(outputs[a.name]):
                continue
            below = outputs[b.name][len(outputs[a.name]) :]
            if a.prefix + below != b.prefix:
                return (
                    f"routes {a.name!r} and {b.name!r} could write the same output: {a.prefix + below!r}... "
                    f"and {b.prefix!r}... both map under {outputs[b.name]!r}"
                )
    return None


def _budget_conflicts(entries: list[RouteEntry], _: RouteDefaults) -> str | None:
    for first, second in _pairs(entries):
        if (
            first.model_id == second.model_id
            and first.pages_per_minute is not None
            and second.pages_per_minute is not None
            and first.pages_per_minute != second.pages_per_minute
        ):
            return (
                f"routes {first.name!r} and {second.name!r} share model {first.model_id!r} but set "
                f"pages_per_minute {first.pages_per_minute} and {second.pages_per_minute}: the budget is "
                "the model's"
            )
    return None


def _pairs(entries: list[RouteEntry]) -> Iterable[tuple[RouteEntry, RouteEntry]]:
    for index, first in enumerate(entries):
        for second in entries[index + 1 :]:
            yield first, second


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
