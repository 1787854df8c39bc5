"""Instructions per webhook, service against floor, counted by valgrind (callgrind): a measure that does not
move with the machine.

Table 1's req/s and worker CPU move by 10-30% between runs on a shared VM (the floor alone, by up to 70%
between rounds), which hides differences of a millisecond. Instructions executed do not move. For each
case (one-page and ten-page first deliveries and repeats) the service's Flask app and the floor
(bench/floor_app.py) answer webhooks in process, through the Flask test client, against bench/s3stub.py
and the emulator, each in a fresh interpreter under `valgrind --tool=callgrind`, twice: after one warm-up
webhook with none after it, and with `--webhooks` more. The difference over `--webhooks` is one webhook's
instructions, start-up and first-use costs taken out. Gunicorn's share (HTTP parsing, the access line)
and the S3 server's own work are the same on both sides and are not counted, so the ratio here is the
service's own work seen without noise, not table 1's ratio.

    .venv/bin/python -m bench.instructions [--webhooks 20] [--pages 1 10] [--simulate]
                                                        (about 10 minutes on 2 cores; --simulate doubles it)

`--simulate` also runs callgrind's cache and branch-predictor models, and prints each one's misses per
webhook and per 1,000 instructions for service and floor: where the two execute at different rates per
instruction (table 1's time ratios below the instruction ratios), these say whether code, data or
branches make the difference. They are models of this machine's caches, not its counters.

`--per-page` counts table 2's subjects the same way instead: `json.loads`, `parse_payload_bytes` and
normalize + validate (bench/normalize_bench.py `_normalize`) of the 1-, 10-, 100- and 1,000-page bodies,
per page (a run with one warm-up call against one with enough more calls for about 3,000 pages). Whether
the per-page time's growth with the body is work done or the machine's memory shows here: instructions do
not wait on caches.

    .venv/bin/python -m bench.instructions --per-page      (about 20 minutes on 2 cores)

Needs valgrind on PATH. Not part of `make bench`: it takes longer than the whole bench. Results and how to
read them: bench/NOTES.md, "Goal by goal", items 1 (webhooks) and 2 (`--per-page`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import REPO
from bench.floor_app import read_plans, seed, write_plans
from bench.stack import (
    FLOOR_BUCKET,
    in_process_client,
    stand_in,
)
from bench.webhook_bench import _synthetic_bodies, count_s3_calls, submit_pool
from devtools.stack import TEST_SECRET
from service.gunicorn_conf import post_worker_init

# Callgrind's summary lines: "==123== I   refs:  1,234", "==123== D1  misses:  ..." (with --cache-sim),
# "==123== Mispredicts:  ..." (with --branch-sim).
SUMMARY = re.compile(r"^==\d+== ([A-Za-z0-9 ]+?):\s+([\d,]+)", re.M)
SIMULATED = ("I1 misses", "LLi misses", "D1 misses", "LLd misses", "Mispredicts")


@dataclass(frozen=True)
class Case:
    name: str
    pages: int
    delivery: str  # "first" or "repeat"


CASES = (
    Case("1-page first delivery", 1, "first"),
    Case("10-page first delivery", 10, "first"),
    Case("1-page repeat", 1, "repeat"),
    Case("10-page repeat", 10, "repeat"),
)


def _child(app: str, bodies_file: Path, env_file: Path, plan: str) -> None:
    """In the valgrind'd interpreter: every body in the file, in order, through the app in process, once
    the app is loaded and gunicorn's `post_worker_init` (service/gunicorn_conf.py) has run on it, as in
    each worker of table 1, for both apps: the service's request line is left to gunicorn's access line
    (which is not counted here, on either side), and what start-up built is frozen out of the collector's
    way (otherwise a full collection over it falls inside one run and not the other, and moves a ten-page
    webhook's count by a million instructions)."""
    env = json.loads(env_file.read_text())
    bodies = json.loads(bodies_file.read_text())
    if app == "floor":
        os.environ.update(env)
        from bench.floor_app import create_app as floor_app

        client = floor_app().test_client()
        post_worker_init(_worker(client.application))
        _deliver(client, f"/webhooks/nanonets?plan={plan}", bodies)
    else:
        with in_process_client(env) as client:  # its log lines are formatted (their cost counts)
            post_worker_init(_worker(client.application))
            _deliver(client, "/webhooks/nanonets", bodies)


def _worker(app: Any) -> SimpleNamespace:
    """What `post_worker_init` reads of a gunicorn worker: its app, and the access log that
    service/gunicorn_conf.py turns on (without it the service's own request line would stay, and be counted
    here though table 1's workers do not write it)."""
    return SimpleNamespace(wsgi=app, cfg=SimpleNamespace(accesslog="-"))


PER_PAGE_SUBJECTS = ("loads", "parse_payload", "normalize")
PER_PAGE_SIZES = (1, 10, 100, 1000)
PER_PAGE_WORK = 3000  # pages processed per measured run, whatever the body's size


def _per_page_child(subject: str, n_pages: int, calls: int) -> None:
    """In the valgrind'd interpreter: one warm-up call of `subject` on the n-page body, then `calls` more."""
    from bench.normalize_bench import _normalize, body_for
    from bench.stack import RULES
    from service.core.payloads import parse_payload_bytes
    from service.core.rules import load_rules

    rules = load_rules(RULES)
    body = body_for(n_pages)
    subjects: dict[str, Callable[[], object]] = {
        "loads": lambda: json.loads(body),
        "parse_payload": lambda: parse_payload_bytes(body),
        "normalize": lambda: _normalize(body, rules),
    }
    run = subjects[subject]
    for _ in range(1 + calls):
        run()


def _per_page_calls(n_pages: int) -> int:
    return max(1, PER_PAGE_WORK // n_pages)


def _callgrind_total(argv: list[str]) -> int:
    """Instructions of `python -m bench.instructions <argv>` under callgrind (hash seed fixed)."""
    return _callgrind_counts(argv)["I refs"]


def _callgrind_counts(argv: list[str], simulate: bool = False) -> dict[str, int]:
    """Callgrind's summary counts of `python -m bench.instructions <argv>` ("I refs", and with `simulate`
    its cache and branch predictor models' misses, SIMULATED), hash seed fixed."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            *(["--cache-sim=yes", "--branch-sim=yes"] if simulate else []),
            sys.executable,
            "-m",
            "bench.instructions",
            *argv,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    counts = {
        " ".join(name.split()): int(value.replace(",", "")) for name, value in SUMMARY.findall(done.stderr)
    }
    if done.returncode != 0 or "I refs" not in counts:
        raise RuntimeError(f"{argv}: valgrind run failed\n{done.stderr[-2000:]}")
    return counts


def measure_per_page() -> list[dict[str, Any]]:
    """Instructions per page of each subject at each size."""
    runs = [
        (subject, n_pages, calls)
        for subject in PER_PAGE_SUBJECTS
        for n_pages in PER_PAGE_SIZES
        for calls in (0, _per_page_calls(n_pages))
    ]
    with ThreadPoolExecutor(2) as pool:
        totals = list(pool.map(lambda run: _callgrind_total(["--per-page-child", *map(str, run)]), runs))
    by_run = dict(zip(runs, totals, strict=True))
    results = []
    for n_pages in PER_PAGE_SIZES:
        calls = _per_page_calls(n_pages)
        row: dict[str, Any] = {"pages": n_pages}
        for subject in PER_PAGE_SUBJECTS:
            extra = by_run[(subject, n_pages, calls)] - by_run[(subject, n_pages, 0)]
            row[subject] = extra / (calls * n_pages)
        results.append(row)
    return results


def _print_per_page(rows: list[dict[str, Any]]) -> None:
    print(
        "| pages | json.loads, per page | parse_payload_bytes, per page | normalize + validate, per page "
        "| normalize / json.loads |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['pages']:,} | {row['loads'] / 1e3:.0f} k | {row['parse_payload'] / 1e3:.0f} k "
            f"| {row['normalize'] / 1e3:.0f} k | {row['normalize'] / row['loads']:.2f}x |"
        )
    ten, thousand = rows[PER_PAGE_SIZES.index(10)], rows[PER_PAGE_SIZES.index(1000)]
    print(
        f"\nper page, 1,000 / 10 pages: json.loads {thousand['loads'] / ten['loads']:.2f}, "
        f"parse_payload_bytes {thousand['parse_payload'] / ten['parse_payload']:.2f}, "
        f"normalize + validate {thousand['normalize'] / ten['normalize']:.2f}"
    )


def _deliver(client: Any, path: str, bodies: list[str]) -> None:
    headers = {"Content-Type": "application/json", "X-Webhook-Token": TEST_SECRET}
    for body in bodies:
        answer = client.post(path, data=body.encode(), headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.data[:300]!r}")


def _instructions(
    work: Path, label: str, app: str, bodies: list[bytes], plan: str, simulate: bool
) -> dict[str, int]:
    """Callgrind's counts for a fresh interpreter that starts `app` and answers `bodies`."""
    bodies_file = work / f"{label}.json"
    bodies_file.write_text(json.dumps([body.decode() for body in bodies]))
    argv = ["--child", app, str(bodies_file), str(work / "env.json"), plan]
    return _callgrind_counts(argv, simulate)


def measure(webhooks: int, pages: tuple[int, ...] = (1, 10), simulate: bool = False) -> list[dict[str, Any]]:
    cases = [case for case in CASES if case.pages in pages]
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    with stand_in(work) as stack:
        pipeline, s3, env = stack.pipeline, stack.s3, stack.env
        plans = write_plans(
            work / "plan.json", count_s3_calls(env, stack.stub.url, pipeline, s3, stack.emulator_url).service
        )
        seed(s3, FLOOR_BUCKET, read_plans(plans))
        (work / "env.json").write_text(
            json.dumps({**env, "FLOOR_BUCKET": FLOOR_BUCKET, "FLOOR_PLAN": str(plans)})
        )
        runs: dict[str, tuple[str, list[bytes], str]] = {}
        for case in cases:
            plan = f"{case.pages}-{case.delivery}"
            tag = f"ins-{case.pages}"
            if case.delivery == "first":  # every body a file of its own, each delivered once
                service = submit_pool(
                    pipeline, s3, stack.emulator_url, count=webhooks + 2, n_pages=case.pages, tag=tag
                )
                floor = _synthetic_bodies(webhooks + 2, case.pages, salt=tag)
                runs[f"{plan}-service-0"] = ("service", service[:1], plan)
                runs[f"{plan}-service-n"] = ("service", service[1:], plan)
                runs[f"{plan}-floor-0"] = ("floor", floor[:1], plan)
                runs[f"{plan}-floor-n"] = ("floor", floor[1:], plan)
            else:  # the first-delivery bodies of the same size again: every file is done by now
                first = runs[f"{case.pages}-first-service-n"][1]
                floor = runs[f"{case.pages}-first-floor-n"][1]
                runs[f"{plan}-service-0"] = ("service", first[:1], plan)
                runs[f"{plan}-service-n"] = ("service", first[: webhooks + 1], plan)
                runs[f"{plan}-floor-0"] = ("floor", floor[:1], plan)
                runs[f"{plan}-floor-n"] = ("floor", floor[: webhooks + 1], plan)
        # First deliveries before repeats: a repeat's file must be done when its run starts.
        order = [label for label in runs if "first" in label] + [label for label in runs if "repeat" in label]
        totals: dict[str, dict[str, int]] = {}
        for batch in (order[i : i + 2] for i in range(0, len(order), 2)):
            with ThreadPoolExecutor(2) as pool:
                for label, total in zip(
                    batch,
                    pool.map(lambda lb: _instructions(work, lb, *runs[lb], simulate), batch),
                    strict=True,
                ):
                    totals[label] = total
    results = []
    for case in cases:
        plan = f"{case.pages}-{case.delivery}"
        per = {
            app: {
                name: (totals[f"{plan}-{app}-n"][name] - totals[f"{plan}-{app}-0"][name]) / webhooks
                for name in totals[f"{plan}-{app}-n"]
            }
            for app in ("service", "floor")
        }
        results.append(
            {
                "case": case.name,
                "service": per["service"]["I refs"],
                "floor": per["floor"]["I refs"],
                "floor_over_service": per["floor"]["I refs"] / per["service"]["I refs"],
                "simulated": per if simulate else None,
            }
        )
    shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhooks", type=int, default=20, help="webhooks measured per run (default 20)")
    parser.add_argument(
        "--pages",
        type=int,
        nargs="+",
        default=[1, 10],
        choices=[1, 10],
        help="body sizes measured (default both)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="also callgrind's cache and branch models: misses per webhook and per 1,000 instructions",
    )
    parser.add_argument("--per-page", action="store_true", help="table 2's subjects, instructions per page")
    parser.add_argument(
        "--per-page-child", nargs=3, metavar=("SUBJECT", "PAGES", "CALLS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--child", nargs=4, metavar=("APP", "BODIES", "ENV", "PLAN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        app, bodies_file, env_file, plan = args.child
        _child(app, Path(bodies_file), Path(env_file), plan)
        return 0
    if args.per_page_child:
        subject, n_pages, calls = args.per_page_child
        _per_page_child(subject, int(n_pages), int(calls))
        return 0
    if shutil.which("valgrind") is None:
        print("bench.instructions: valgrind is not installed", file=sys.stderr)
        return 2
    if args.per_page:
        _print_per_page(measure_per_page())
        return 0
    rows = measure(args.webhooks, tuple(args.pages), args.simulate)
    print("| webhook | service, instructions | floor, instructions | floor / service |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['case']} | {row['service'] / 1e6:.2f} M | {row['floor'] / 1e6:.2f} M "
            f"| {row['floor_over_service']:.3f} |"
        )
    if args.simulate:
        _print_simulated(rows)
    return 0


def _print_simulated(rows: list[dict[str, Any]]) -> None:
    """Per webhook, each simulated count and (in brackets) per 1,000 instructions."""
    print()
    print("| webhook | app | " + " | ".join(SIMULATED) + " |")
    print("| --- | --- |" + " ---: |" * len(SIMULATED))
    for row in rows:
        for app in ("service", "floor"):
            counts = row["simulated"][app]
            cells = [
                f"{counts[name] / 1e3:.1f} k ({1e3 * counts[name] / counts['I refs']:.2f})"
                for name in SIMULATED
            ]
            print(f"| {row['case']} | {app} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
