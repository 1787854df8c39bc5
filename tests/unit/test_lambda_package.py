"""scripts/lambda_package.py: what it does to a Lambda zip (bytecode, JSON copies of rules and routes)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts.lambda_package import PackageError, check_runtime, finish
from service.core.routes import RouteDefaults, load_routes_file
from service.core.rules import load_rules

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
TAG = sys.implementation.cache_tag
# As serverless and serverless-python-requirements date entries: never a source's real mtime.
ZIP_DATES = {"pkg/mod.py": (2098, 1, 1, 0, 0, 0)}


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, ZIP_DATES.get(name, (1980, 1, 1, 0, 0, 0))), content)
    return path


def _extract(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as package:
        package.extractall(into)
    return into


def _samples() -> dict[str, bytes]:
    return {
        "samples/routes.yaml": (SAMPLES / "routes.yaml").read_bytes(),
        **{f"samples/rules/{f.name}": f.read_bytes() for f in (SAMPLES / "rules").glob("*.yaml")},
    }


def test_every_module_ships_a_pyc_that_python_uses_and_the_stale_ones_are_dropped(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "package.zip",
        {
            "pkg/__init__.py": b"",
            "pkg/mod.py": b"VALUE = 'compiled at package time'\n",
            f"pkg/__pycache__/mod.{TAG}.pyc": b"a timestamp pyc pip wrote, stale once zipped",
            "pkg/broken.py": b"def (:\n",
        },
    )

    counts = finish(archive, RUNTIME)

    names = set(zipfile.ZipFile(archive).namelist())
    assert {f"pkg/__pycache__/mod.{TAG}.pyc", f"pkg/__pycache__/__init__.{TAG}.pyc"} <= names
    assert f"pkg/__pycache__/broken.{TAG}.pyc" not in names
    assert counts == {"compiled": 2, "not_compiled": 1, "stale_pyc_dropped": 1, "json_copies": 0}
    unpacked = _extract(archive, tmp_path / "task")
    # The pyc is used as it is, whatever the source's date: a changed source does not show.
    (unpacked / "pkg" / "mod.py").write_text("VALUE = 'the source'\n")
    ran = subprocess.run(
        [sys.executable, "-c", "import pkg.mod; print(pkg.mod.VALUE)"],
        cwd=unpacked,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.strip() == "compiled at package time"


def test_each_sample_rules_file_has_a_json_copy_that_loads_the_same_rules(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "package.zip", _samples())

    finish(archive, RUNTIME)

    unpacked = _extract(archive, tmp_path / "task")
    rules_files = sorted((unpacked / "samples" / "rules").glob("*.yaml"))
    assert rules_files
    for yaml_file in rules_files:
        assert load_rules(yaml_file.with_suffix(".json")) == load_rules(yaml_file)


def test_the_routes_copy_names_the_json_copies_of_its_rules(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "package.zip", _samples())
    finish(archive, RUNTIME)
    unpacked = _extract(archive, tmp_path / "task")
    defaults = RouteDefaults(input_prefix="incoming/", output_prefix="normalized/", pages_per_minute=30)

    from_yaml = load_routes_file(unpacked / "samples" / "routes.yaml", defaults)
    from_json = load_routes_file(unpacked / "samples" / "routes.json", defaults)

    assert [r.rules_file for r in from_json.routes] == [
        str(Path(r.rules_file).with_suffix(".json")) for r in from_yaml.routes if r.rules_file
    ]
    assert [r.model_copy(update={"rules_file": None}) for r in from_json.routes] == [
        r.model_copy(update={"rules_file": None}) for r in from_yaml.routes
    ]


def test_a_yaml_file_json_cannot_hold_stops_the_package(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "package.zip", {"samples/rules/dated.yaml": b"fields:\n  since: 2026-01-01\n"})
    with pytest.raises(PackageError, match=r"dated\.yaml"):
        finish(archive, RUNTIME)
    assert zipfile.ZipFile(archive).namelist() == ["samples/rules/dated.yaml"]


def test_bytecode_for_another_runtime_is_refused() -> None:
    with pytest.raises(PackageError, match="PYTHON_BIN"):
        check_runtime("python3.9")


def test_finishing_a_finished_package_changes_nothing_it_holds(tmp_path: Path) -> None:
    """`deploy function` may hand the plugin a package `package` already finished."""
    archive = _zip(tmp_path / "package.zip", {"pkg/mod.py": b"VALUE = 1\n", **_samples()})
    finish(archive, RUNTIME)
    first = {i.filename: zipfile.ZipFile(archive).read(i) for i in zipfile.ZipFile(archive).infolist()}

    counts = finish(archive, RUNTIME)

    second = {i.filename: zipfile.ZipFile(archive).read(i) for i in zipfile.ZipFile(archive).infolist()}
    assert second == first
    assert counts["json_copies"] == 0
