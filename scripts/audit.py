"""`make lint` step: pip-audit over the exact runtime dependencies installed in .venv (the closure of
pyproject's [project.dependencies], pinned to what is installed), with accepted findings in
`audit-ignore.txt`.

A finding fails the build. To handle one: upgrade the dependency (raise the range in pyproject.toml and
requirements-lambda.txt, `make install`, `make test`); only if no fixed release exists and the code path is
not reachable from the service, add `<VULN-ID>  # why, and a date to look again` to audit-ignore.txt.

When the vulnerability database cannot be reached (offline CI), the step says so and passes, unless
AUDIT_REQUIRED=1, which makes it fail: an audit that did not run is not a clean audit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IGNORE_FILE = REPO / "audit-ignore.txt"


def runtime_closure(root: str = "nanonets-ingest") -> dict[str, str]:
    """name -> installed version, for the project's runtime requirements and theirs (no extras)."""
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen[key] = dist.version
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            todo.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    seen.pop(root, None)
    return seen


def ignored_ids() -> list[str]:
    if not IGNORE_FILE.exists():
        return []
    ids = [line.split("#", 1)[0].strip() for line in IGNORE_FILE.read_text().splitlines()]
    return [vuln for vuln in ids if vuln]


def main() -> int:
    pins = runtime_closure()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        requirements = handle.name
    command = [
        str(Path(sys.executable).parent / "pip-audit"),
        "-r",
        requirements,
        "--no-deps",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    for vuln in ignored_ids():
        command += ["--ignore-vuln", vuln]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    os.unlink(requirements)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"audit: pip-audit failed to run:\n{done.stderr[-2000:]}", file=sys.stderr)
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    found = [(d["name"], d["version"], v["id"]) for d in report["dependencies"] for v in d.get("vulns", [])]
    skipped = [d for d in report["dependencies"] if d.get("skip_reason")]
    for name, version, vuln in found:
        print(f"audit: {name} {version}: {vuln}")
    if found:
        print(f"audit: {len(found)} known vulnerabilities (see scripts/audit.py to handle them)")
        return 1
    if len(skipped) == len(pins):
        print(f"audit: the vulnerability database was unreachable; {len(pins)} runtime packages NOT audited")
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    print(f"audit: {len(pins) - len(skipped)} runtime packages audited, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
