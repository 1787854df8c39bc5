"""Profiles of the hot spots, with pyinstrument (pip-installed into the venv on first use).

- normalize: bytes → document → digest → output JSON for a 1,000-page body, in process;
- webhook: the Flask app in process (test client), first deliveries and repeats, S3 on bench/s3stub.py;
- cold start: a fresh process importing service.aws_lambda and answering one SQS batch.
Each gives its top lines: the heaviest functions by their own time (flat), and the call tree's top.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import REPO, log

COLD_PROFILE = """
import json, sys
from pyinstrument import Profiler
from pyinstrument.renderers import ConsoleRenderer
profiler = Profiler(interval=0.0005)
profiler.start()
from service import aws_lambda
aws_lambda.events_handler(json.loads(sys.argv[1]), None)
profiler.stop()
print("BENCH-FLAT")
print(profiler.output(ConsoleRenderer(unicode=False, color=False, flat=True)))
print("BENCH-TREE")
print(profiler.output(ConsoleRenderer(unicode=False, color=False)))
from bench.profiles import by_package
print("BENCH-PACKAGES " + json.dumps(by_package(profiler.last_session.root_frame())))
"""


@dataclass
class Profile:
    name: str
    what: str
    flat: list[str] = field(default_factory=list)
    tree: list[str] = field(default_factory=list)
    by_package: list[tuple[str, float]] = field(default_factory=list)  # self time by package, seconds


def _package(path: str | None) -> str | None:
    """`.../site-packages/botocore/auth.py` → botocore; `.../service/core/normalize.py` → service;
    `.../lib/python3.11/json/decoder.py` → json (stdlib); `<built-in>` → None (its caller's)."""
    if not path or path.startswith("<"):
        return None
    parts = path.replace("\\", "/").split("/")
    if "site-packages" in parts:
        name = parts[parts.index("site-packages") + 1]
        return name.removesuffix(".py")
    for ours in ("service", "bench", "tests"):
        if str(REPO / ours) in path:
            return ours + (" (ours)" if ours == "service" else "")
    for marker in ("python3.11", "python3.12", "python3.13", "lib"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            return (rest[0].removesuffix(".py") if rest else "stdlib") + " (stdlib)"
    return "other"


def by_package(root: Any) -> list[tuple[str, float]]:
    """Self time of every frame, summed by the package of its code (C functions count for their caller)."""
    totals: dict[str, float] = {}

    def walk(frame: Any, inherited: str) -> None:
        package = _package(frame.file_path) or inherited
        if not frame.children:
            totals[package] = totals.get(package, 0.0) + frame.time
        for child in frame.children:
            walk(child, package)

    walk(root, "other")
    return sorted(totals.items(), key=lambda item: -item[1])


def ensure_pyinstrument() -> bool:
    try:
        importlib.import_module("pyinstrument")
        return True
    except ImportError:
        pass
    log("pyinstrument not installed: pip-installing it into the venv")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "pyinstrument>=4.6"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log(f"could not install pyinstrument; profiles skipped: {result.stderr.strip()[-300:]}")
        return False
    importlib.invalidate_caches()
    return True


def _lines(text: str, limit: int) -> list[str]:
    """The report lines of a pyinstrument text output, without its banner."""
    lines = [line.rstrip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith("Profile at")), -1) + 1
    body = [line for line in lines[start:] if line.strip()]
    return body[:limit]


def in_process(
    name: str, what: str, work: Callable[[], object], *, flat: int = 15, tree: int = 30
) -> Profile:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    profiler = Profiler(interval=0.0005)
    profiler.start()
    work()
    profiler.stop()
    root = profiler.last_session.root_frame() if profiler.last_session else None
    return Profile(
        name,
        what,
        _lines(profiler.output(ConsoleRenderer(unicode=False, color=False, flat=True)), flat),
        _lines(profiler.output(ConsoleRenderer(unicode=False, color=False)), tree),
        by_package(root) if root is not None else [],
    )


def cold_start(env: dict[str, str], event: str, *, flat: int = 15, tree: int = 45) -> Profile:
    child_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("NANONETS_", "AWS_"))}, **env}
    result = subprocess.run(
        [sys.executable, "-c", COLD_PROFILE, event],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 or "BENCH-TREE" not in result.stdout:
        raise RuntimeError(f"cold-start profile failed:\n{result.stderr[-2000:]}")
    flat_text, rest = result.stdout.split("BENCH-FLAT", 1)[1].split("BENCH-TREE", 1)
    tree_text, packages = rest.split("BENCH-PACKAGES ", 1)
    return Profile(
        "cold start",
        "fresh process: `from service import aws_lambda` + `events_handler` for an SQS batch of one S3 event",
        _lines(flat_text, flat),
        _lines(tree_text, tree),
        [(name, seconds) for name, seconds in json.loads(packages.strip().splitlines()[0])],
    )


def webhook_in_process(env: dict[str, str], first_bodies: list[bytes], repeat_times: int = 2) -> Profile:
    """The service's Flask app in this process (no gunicorn, no network to the app): the bodies are
    delivered once (first deliveries), then `repeat_times` more (repeats)."""
    from bench.stack import in_process_client
    from devtools.stack import TEST_SECRET

    headers = {"Content-Type": "application/json", "X-Webhook-Token": TEST_SECRET}
    with in_process_client(env) as client:

        def deliver() -> None:
            for _ in range(1 + repeat_times):
                for body in first_bodies:
                    response = client.post("/webhooks/nanonets", data=body, headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(
                            f"profiled webhook answered {response.status_code}: {response.data!r}"
                        )

        return in_process(
            "webhook",
            f"Flask app in process, {len(first_bodies)} one-page first deliveries then "
            f"{repeat_times * len(first_bodies)} repeats, S3 on bench/s3stub.py",
            deliver,
        )


def as_dict(profiles: list[Profile]) -> list[dict[str, Any]]:
    return [
        {"name": p.name, "what": p.what, "flat": p.flat, "tree": p.tree, "by_package": p.by_package}
        for p in profiles
    ]


def dump(profiles: list[Profile]) -> str:
    return json.dumps(as_dict(profiles), indent=2)
