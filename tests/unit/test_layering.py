"""Who may import whom: the product never imports the dev tools or the tests; demo, bench and soak never
import the tests (they use `devtools/`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from devtools.stack import REPO


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / folder).rglob("*.py"))
        for name in sorted(_imported_modules(path))
        if name.split(".")[0] in forbidden
    ]


def test_service_imports_neither_devtools_nor_tests_nor_scripts_nor_bench() -> None:
    assert _offenders("service", ("devtools", "tests", "scripts", "bench")) == []


@pytest.mark.parametrize("folder", ["scripts", "bench", "devtools"])
def test_tooling_never_imports_the_tests(folder: str) -> None:
    assert _offenders(folder, ("tests",)) == []
