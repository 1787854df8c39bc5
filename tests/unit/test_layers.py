"""Who may import whom (docs/ARCHITECTURE.md), checked on the source: a layer that reaches up fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "service"

# service.review (the review console) sits beside the entry points: it implements ports the use cases call
# (ReviewDecisions, AttentionQueue, ReviewPushes) and serves pages; nothing below it may import it.
FORBIDDEN = {
    "service.core": (
        "service.usecases",
        "service.adapters",
        "service.web",
        "service.cli",
        "service.bootstrap",
        "service.review",
    ),
    "service.models": (
        "service.usecases",
        "service.adapters",
        "service.web",
        "service.cli",
        "service.core",
        "service.review",
    ),
    "service.usecases": (
        "service.adapters",
        "service.observability",
        "service.web",
        "service.cli",
        "service.bootstrap",
        "service.aws_lambda",
        "service.review",
    ),
    "service.adapters": (
        "service.usecases",
        "service.web",
        "service.cli",
        "service.bootstrap",
        "service.review",
    ),
    "service.review": ("service.web", "service.cli", "service.aws_lambda"),
    # The metrics sinks are adapters of the Metrics port: below the use cases and the edges.
    "service.observability": (
        "service.usecases",
        "service.adapters",
        "service.web",
        "service.cli",
        "service.bootstrap",
        "service.aws_lambda",
    ),
    "service": ("devtools", "tests", "scripts", "bench"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SERVICE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(SERVICE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_a_module_imports_nothing_above_its_layer(path: Path) -> None:
    module = _module_name(path)
    imported = _imports(path)
    for layer, forbidden in FORBIDDEN.items():
        if module == layer or module.startswith(layer + "."):
            bad = sorted(n for n in imported for f in forbidden if n == f or n.startswith(f + "."))
            assert bad == [], f"{module} imports {bad}, above its layer {layer}"


def test_the_rules_see_every_layer() -> None:
    """The check above would pass vacuously if the layers moved: make sure each still has modules."""
    names = {_module_name(p) for p in MODULES}
    for layer in (
        "service.core",
        "service.models",
        "service.usecases",
        "service.adapters",
        "service.review",
        "service.observability",
    ):
        assert any(n.startswith(layer + ".") for n in names), layer


@pytest.mark.parametrize("folder", ["scripts", "bench", "devtools"])
def test_tooling_never_imports_the_tests(folder: str) -> None:
    """Demo, bench and soak run from `devtools/`, never from the test suite."""
    offenders = [
        f"{path.relative_to(SERVICE.parent)} imports {name}"
        for path in sorted((SERVICE.parent / folder).rglob("*.py"))
        for name in sorted(_imports(path))
        if name.split(".")[0] == "tests"
    ]
    assert offenders == []
