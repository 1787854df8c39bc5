"""The image carries every file the documented settings point to (no Docker engine here: read the
Dockerfile, map its COPY lines onto the repository, and resolve the paths as the container would)."""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

import yaml

from devtools.stack import REPO

DOCKERFILE = REPO / "Dockerfile"


def runtime_stage() -> list[str]:
    lines = DOCKERFILE.read_text().splitlines()
    last_from = max(index for index, line in enumerate(lines) if line.startswith("FROM "))
    return lines[last_from:]


def image_files() -> set[PurePosixPath]:
    """The repository files the runtime stage copies in, at their paths in the image."""
    files: set[PurePosixPath] = set()
    for line in runtime_stage():
        if not line.startswith("COPY ") or "--from=" in line:
            continue
        *sources, destination = shlex.split(line)[1:]
        for source in sources:
            found = REPO / source
            if found.is_dir():
                files |= {
                    PurePosixPath(destination) / path.relative_to(found).as_posix()
                    for path in found.rglob("*")
                    if path.is_file()
                }
            else:
                files.add(PurePosixPath(destination))
    return files


def workdir() -> PurePosixPath:
    [folder] = [line.split(" ", 1)[1] for line in runtime_stage() if line.startswith("WORKDIR ")]
    return PurePosixPath(folder)


def example_paths() -> dict[str, str]:
    """The file paths .env.example suggests (commented out: the defaults need none)."""
    text = (REPO / ".env.example").read_text()
    return dict(re.findall(r"^#?\s*(ROUTES_FILE|VALIDATION_RULES)=(\S+)", text, re.MULTILINE))


def test_the_example_routes_and_rules_resolve_in_the_image_as_in_the_repository() -> None:
    files = image_files()
    examples = example_paths()
    assert set(examples) == {"ROUTES_FILE", "VALIDATION_RULES"}
    for value in examples.values():
        assert workdir() / value in files, f"{value} (.env.example) is not in the image"
    routes_file = workdir() / examples["ROUTES_FILE"]
    routes = yaml.safe_load((REPO / examples["ROUTES_FILE"]).read_text())["routes"]
    for route in routes:  # rules are read relative to the routes file
        assert routes_file.parent / route["rules"] in files, route


def test_the_rules_stay_where_earlier_images_had_them() -> None:
    assert PurePosixPath("/app/rules/fuel-receipts.yaml") in image_files()  # README: VALIDATION_RULES


def test_env_example_lines_work_with_docker_env_file() -> None:
    """`docker run --env-file .env` (README) takes everything after `=` as the value, comments included:
    a comment on a setting's own line would become part of its value."""
    text = (REPO / ".env.example").read_text()
    settings = [line for line in text.splitlines() if re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", line)]
    assert settings, "no settings found in .env.example"
    for line in settings:
        value = line.split("=", 1)[1]
        assert "#" not in value and value == value.strip(), f"inline comment or padding: {line!r}"
