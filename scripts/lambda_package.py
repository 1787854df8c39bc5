"""Finish the Lambda package `serverless package` built: bytecode for every module, JSON copies of the
YAML rules and routes files. Run by the local Serverless plugin `scripts/serverless_lambda_package.js`,
after serverless-python-requirements has put the dependencies into the zip:

    python -m scripts.lambda_package .serverless/nanonets-ingest.zip --runtime python3.11

Why, both for the cold start (docs: bench/coldstart_bench.py):
- Lambda runs the package from a read-only /var/task, so a module without a usable `.pyc` is compiled
  from source in every cold start. The zip had none for `service/` (`package.patterns` leaves the
  developer's `__pycache__` out), and the dependencies' that pip wrote could not be used either: they are
  checked against the source's modification time, and the zip dates every file 1980-01-01 or 2098-01-01.
  Every `.py` in the zip now gets a `.pyc` checked by nothing (`unchecked-hash`): the package never
  changes once built (Lambda's console cannot edit a package this size), and the pyc is compiled here from
  the very bytes shipped beside it. The stale ones are dropped.
- Rules and routes files are YAML in the repository; PyYAML costs a cold start about 25 ms to import. The
  loader reads JSON as well (by suffix), so each YAML file under `samples/` gets a `.json` copy beside it,
  holding the same data (checked by a round trip), and a routes copy names the JSON copies of its rules.
  serverless.yml points VALIDATION_RULES at the JSON copy; the YAML files still ship for whoever names them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import posixpath
import py_compile
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

YAML_SUFFIXES = (".yaml", ".yml")
# Where serverless.yml packages rules and routes (package.patterns: samples/rules/**, samples/routes.yaml).
DATA_PREFIXES = ("samples/",)
ENTRY_DATE = (1980, 1, 1, 0, 0, 0)


class PackageError(Exception):
    """The package cannot be finished; the message says why."""


def check_runtime(runtime: str) -> None:
    """The bytecode is this interpreter's: it must be the Lambda runtime's version (as the dependencies
    serverless-python-requirements installed with the same interpreter must be)."""
    wanted = "cpython-" + runtime.removeprefix("python").replace(".", "")
    if sys.implementation.cache_tag != wanted:
        raise PackageError(
            f"the Lambda runtime is {runtime} ({wanted}) but this is {sys.implementation.cache_tag}: "
            "set PYTHON_BIN to a Python of the runtime's version"
        )


def pyc_name(source_name: str) -> str:
    """`service/aws_lambda.py` -> `service/__pycache__/aws_lambda.cpython-311.pyc` (the runtime's tag)."""
    return importlib.util.cache_from_source(source_name)


def compile_source(source: bytes, name: str, workdir: Path) -> bytes | None:
    """The `.pyc` of one module, validated by nothing at import (the package is immutable); None when it
    does not compile (pip skips those too: a dependency's file for another Python version)."""
    source_path = workdir / "module.py"
    pyc_path = workdir / "module.pyc"
    source_path.write_bytes(source)
    try:
        py_compile.compile(
            str(source_path),
            cfile=str(pyc_path),
            dfile=name,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return None
    return pyc_path.read_bytes()


def json_copy_name(name: str) -> str:
    return posixpath.splitext(name)[0] + ".json"


def is_data_file(name: str) -> bool:
    return name.startswith(DATA_PREFIXES) and name.endswith(YAML_SUFFIXES)


def json_copy(name: str, text: str, converted: set[str]) -> str:
    """The JSON text holding what the YAML `text` holds. A routes file's relative `rules:` paths that
    name a converted file name its JSON copy instead, so the routes copy never loads YAML."""
    data = yaml.safe_load(text)
    try:
        encoded = json.dumps(data, indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise PackageError(f"{name}: holds what JSON cannot ({error})") from None
    if json.loads(encoded) != data:
        raise PackageError(f"{name}: does not survive a JSON round trip (keys that are not strings?)")
    if isinstance(data, dict) and isinstance(data.get("routes"), list):
        folder = posixpath.dirname(name)
        for route in data["routes"]:
            rules = route.get("rules") if isinstance(route, dict) else None
            if isinstance(rules, str) and not posixpath.isabs(rules):
                target = posixpath.normpath(posixpath.join(folder, rules))
                if target in converted:
                    route["rules"] = json_copy_name(rules)
        encoded = json.dumps(data, indent=2, ensure_ascii=False)
    return encoded + "\n"


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ENTRY_DATE)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def finish(archive: Path, runtime: str) -> dict[str, int]:
    """Rewrite `archive` in place; returns counts of what was added and dropped."""
    check_runtime(runtime)
    counts = {"compiled": 0, "not_compiled": 0, "stale_pyc_dropped": 0, "json_copies": 0}
    with zipfile.ZipFile(archive) as source:
        entries = source.infolist()
        names = {info.filename for info in entries}
        data_files = {n for n in names if is_data_file(n) and json_copy_name(n) not in names}
        handle, temporary = tempfile.mkstemp(dir=archive.parent, suffix=".zip")
        os.close(handle)
        try:
            with (
                zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target,
                tempfile.TemporaryDirectory() as work,
            ):
                for info in entries:
                    if "/__pycache__/" in f"/{info.filename}" and info.filename.endswith(".pyc"):
                        counts["stale_pyc_dropped"] += 1
                        continue
                    content = source.read(info)
                    target.writestr(info, content)
                    if info.filename.endswith(".py"):
                        pyc = compile_source(content, info.filename, Path(work))
                        counts["compiled" if pyc is not None else "not_compiled"] += 1
                        if pyc is not None:
                            target.writestr(_entry(pyc_name(info.filename)), pyc)
                    elif info.filename in data_files:
                        text = json_copy(info.filename, content.decode("utf-8"), data_files)
                        target.writestr(_entry(json_copy_name(info.filename)), text)
                        counts["json_copies"] += 1
            os.chmod(temporary, archive.stat().st_mode & 0o777)  # mkstemp's file is 0600
            os.replace(temporary, archive)
        except BaseException:
            os.unlink(temporary)
            raise
    return counts


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("archive", type=Path, help="the zip serverless package wrote")
    parser.add_argument("--runtime", required=True, help="the functions' runtime, e.g. python3.11")
    args: Any = parser.parse_args(list(argv) if argv is not None else None)
    try:
        counts = finish(args.archive, args.runtime)
    except PackageError as error:
        print(f"lambda_package: {error}", file=sys.stderr)
        return 1
    print("lambda_package: " + ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
