"""`make bench`: measure the service against its references and write docs/BENCHMARKS.md.

    .venv/bin/python -m bench.run [--quick] [--only normalize,webhook,burst,memory,cold,profiles]

Order: normalization (in process, nothing else running), the S3 calls per webhook and webhook throughput
(on the S3 stand-in, then on moto), the paced burst (S3 stand-in, moto SQS, an emulator of its own), then
on the fast S3 stand-in: worker memory, cold start, profiles. Logs and the raw results go to bench/out/
(git-ignored). `--only` writes a report of those sections alone: give it `--output` to keep
docs/BENCHMARKS.md whole. Needs wrk (installed with apt-get when missing) and pyinstrument (pip-installed
into the venv when missing; the profiles are skipped if that fails).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import profiles as profiling
from bench.burst_bench import BurstReport, burst
from bench.coldstart_bench import ColdReport
from bench.coldstart_bench import measure as cold_measure
from bench.common import OUT, REPO, load_average, log, machine
from bench.floor_app import read_plans, seed, write_plans
from bench.gap_bench import measure as gap_measure
from bench.normalize_bench import Row, body_for
from bench.normalize_bench import measure as normalize_measure
from bench.report import render, summary_lines
from bench.stack import (
    FLOOR_APP,
    FLOOR_BUCKET,
    INPUT_BUCKET,
    OUTPUT_BUCKET,
    SERVICE_APP,
    create_buckets,
    in_process_service,
    running,
    s3_client,
    service_env,
    stand_in,
    start_app,
    start_s3stub,
)
from bench.webhook_bench import (
    MemoryReport,
    S3CallCounts,
    WebhookBench,
    WebhookReport,
    count_floor_calls,
    count_s3_calls,
    memory_run,
    submit_pool,
    throughput,
    write_bodies,
)
from bench.wrk import ensure_wrk
from devtools.stack import AWS_TEST_ENV, Process, start_emulator, start_moto

SECTIONS = ("normalize", "webhook", "burst", "memory", "cold", "profiles")
DOC = REPO / "docs" / "BENCHMARKS.md"


class Timer:
    def __init__(self) -> None:
        self.sections: dict[str, float] = {}

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        log(f"--- {name}")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.sections[name] = time.perf_counter() - started
            log(f"--- {name} done in {self.sections[name]:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short runs, to try the bench out (not for the doc)"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--output", type=Path, default=DOC, help="where to write the report")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.2,
        help="table 3: the length of the limit's minute in minutes (default 0.2: a 12 s minute)",
    )
    args = parser.parse_args(argv)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    started_at = time.strftime("%Y-%m-%d %H:%M %Z")
    started = time.perf_counter()
    if wanted & {"webhook", "memory"}:
        ensure_wrk()
    if "profiles" in wanted and not profiling.ensure_pyinstrument():
        wanted.discard("profiles")
    info = machine()
    OUT.mkdir(parents=True, exist_ok=True)
    prune_runs(keep=2)
    work_dir = Path(tempfile.mkdtemp(prefix="run-", dir=OUT))
    os.environ.update(AWS_TEST_ENV)  # the bench never talks to real AWS
    log(f"{info.cores} cores, Python {info.python}; logs under {work_dir}")
    timer = Timer()
    quick = args.quick

    rows: list[Row] | None = None
    webhook: WebhookBench | None = None
    burst_report: BurstReport | None = None
    memory: MemoryReport | None = None
    cold: ColdReport | None = None
    profiles: list[profiling.Profile] = []

    if "normalize" in wanted:
        with timer.section("2. normalization"):
            rows = normalize_measure(rounds=3 if quick else 7, budget_s=0.04)

    if "webhook" in wanted:
        webhook = run_webhook(work_dir, quick, timer)

    if "burst" in wanted:
        with timer.section("3. paced burst"):
            burst_report = run_burst(work_dir, quick, args.time_scale)

    if wanted & {"memory", "cold", "profiles"}:
        stub = start_s3stub(work_dir)
        emulator = start_emulator(log_dir=work_dir)
        with running(stub, emulator):
            s3 = s3_client(stub.url)
            create_buckets(s3, (INPUT_BUCKET, OUTPUT_BUCKET))
            env = service_env(stub.url, emulator.url)
            if "memory" in wanted:
                with timer.section("5. worker memory"):
                    memory = run_memory(env, s3, emulator.url, work_dir, quick)
            if "cold" in wanted:
                with timer.section("4. cold start"):
                    cold = cold_measure(env, s3, rounds=2 if quick else 7)
            if "profiles" in wanted:
                with timer.section("profiles"):
                    profiles = run_profiles(env, s3, emulator.url)

    seconds = time.perf_counter() - started
    text = render(
        command="make bench" + (" (python -m bench.run --quick)" if quick else ""),
        started=started_at,
        seconds=seconds,
        machine=info,
        quick=quick,
        webhook=webhook,
        s3_calls=webhook.calls if webhook else None,
        rows=rows,
        burst=burst_report,
        cold=cold,
        memory=memory,
        profiles=profiles,
        section_seconds=timer.sections,
        load_after=load_average(),
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    results = {
        "machine": asdict(info),
        "seconds": seconds,
        "sections": timer.sections,
        "normalize": [r.as_dict() for r in rows] if rows else None,
        "webhook": webhook.as_dict() if webhook else None,
        "s3_calls": webhook.calls.as_dict() if webhook else None,
        "burst": burst_report.as_dict() if burst_report else None,
        "memory": memory.as_dict() if memory else None,
        "cold": cold.as_dict() if cold else None,
        "profiles": profiling.as_dict(profiles),
    }
    for path in (work_dir / "results.json", OUT / "last-results.json"):
        path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print("\n".join(summary_lines(text)))
    log(f"wrote {args.output} in {seconds / 60:.1f} min")
    return 0


def prune_runs(keep: int) -> None:
    """Drop all but the newest `keep` bench/out/run-* folders (logs and bodies: tens of MB each)."""
    runs = sorted((p for p in OUT.glob("run-*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def run_webhook(work_dir: Path, quick: bool, timer: Timer) -> WebhookBench:
    """The service's S3 calls per webhook, counted on the stand-in; then table 1 on the stand-in and on moto,
    the floor replaying the calls counted (bench/floor_app.py)."""
    with stand_in(work_dir) as stack:
        env, pipeline, s3 = stack.env, stack.pipeline, stack.s3
        with timer.section("S3 calls per webhook"):
            calls = count_s3_calls(env, stack.stub.url, pipeline, s3, stack.emulator_url)
        plan = write_plans(work_dir / "floor-plan.json", calls.service)
        bench = WebhookBench(calls=calls)
        with timer.section("1. webhook throughput on the S3 stand-in"):
            bench.backends.append(
                _table1_on(
                    "stub",
                    stack.stub,
                    stack.emulator_url,
                    env,
                    pipeline,
                    plan,
                    work_dir,
                    seconds=3.0 if quick else 4.0,
                    rounds=1 if quick else 2,
                    floor_calls=calls,
                )
            )
        with timer.section("1b. where the stand-in's gap goes"):
            floor_env = {**env, "FLOOR_BUCKET": FLOOR_BUCKET, "FLOOR_PLAN": str(plan)}
            bench.gap = gap_measure(
                env, floor_env, pipeline, s3, stack.emulator_url, work_dir, rounds=3 if quick else 5
            )
        moto = start_moto()
        with running(moto), timer.section("1. webhook throughput on moto"):
            s3_moto = s3_client(moto.url)
            create_buckets(s3_moto, (INPUT_BUCKET, OUTPUT_BUCKET, FLOOR_BUCKET))
            env = service_env(moto.url, stack.emulator_url)
            bench.backends.append(
                _table1_on(
                    "moto",
                    moto,
                    stack.emulator_url,
                    env,
                    in_process_service(env),
                    plan,
                    work_dir,
                    seconds=3.0 if quick else 4.0,
                    rounds=1 if quick else 2,
                )
            )
    return bench


def _table1_on(
    backend: str,
    s3_server: Process,
    emulator_url: str,
    env: dict[str, str],
    pipeline: Any,
    plan: Path,
    work_dir: Path,
    *,
    seconds: float,
    rounds: int,
    floor_calls: S3CallCounts | None = None,
) -> WebhookReport:
    """Service and floor under gunicorn against one S3 server; with `floor_calls` (on the stand-in, which
    counts calls), the floor's own S3 calls are counted into it first."""
    s3 = s3_client(s3_server.url)
    seed(s3, FLOOR_BUCKET, read_plans(plan))
    floor_env = {**env, "FLOOR_BUCKET": FLOOR_BUCKET, "FLOOR_PLAN": str(plan)}
    service = start_app(f"service-{backend}", SERVICE_APP, env, log_dir=work_dir)
    try:
        floor = start_app(f"floor-{backend}", FLOOR_APP, floor_env, log_dir=work_dir)
    except RuntimeError:
        service.stop()
        raise
    with running(service, floor):
        if floor_calls is not None:
            count_floor_calls(floor, s3_server.url, floor_calls)
        return throughput(
            backend=backend,
            service=service,
            floor=floor,
            pipeline=pipeline,
            s3=s3,
            s3_pid=s3_server.popen.pid,
            emulator_url=emulator_url,
            work_dir=work_dir,
            seconds=seconds,
            rounds=rounds,
        )


def run_burst(work_dir: Path, quick: bool, time_scale: float) -> BurstReport:
    """S3 on the stand-in, SQS on moto, an emulator of its own (its limit and time scale are changed)."""
    stub = start_s3stub(work_dir)
    moto = start_moto()
    emulator = start_emulator(log_dir=work_dir)
    with running(stub, moto, emulator):
        return burst(
            s3_url=stub.url,
            sqs_url=moto.url,
            emulator_url=emulator.url,
            log_dir=work_dir,
            documents=60 if quick else 150,
            pages_per_minute=20 if quick else 30,
            time_scale=time_scale,
            calibration_documents=30 if quick else 60,
        )


def run_memory(env: dict[str, str], s3: Any, emulator_url: str, work_dir: Path, quick: bool) -> MemoryReport:
    """First deliveries of one-page files submitted through the service just before, then repeats."""
    pipeline = in_process_service(env)
    count = 200 if quick else 1000
    bodies = submit_pool(pipeline, s3, emulator_url, count=count, n_pages=1, tag="memory")
    bodies_file = write_bodies(work_dir / "memory-bodies.txt", bodies)
    service = start_app("service-memory", SERVICE_APP, env, log_dir=work_dir)
    with running(service):
        time.sleep(1.0)  # idle: booted, nothing served but the health check that says it is up
        return memory_run(service, bodies_file, target=2000 if quick else 10_000)


def run_profiles(env: dict[str, str], s3: Any, emulator_url: str) -> list[profiling.Profile]:
    from bench.coldstart_bench import _sqs_event
    from bench.normalize_bench import _full
    from bench.payloads import document_bytes, pages
    from bench.stack import RULES, put_documents
    from service.core.rules import load_rules

    found = []
    rules = load_rules(RULES)
    body = body_for(1000)
    found.append(
        profiling.in_process(
            "normalize",
            "bytes → validated, normalized document → digest → output JSON, 1,000-page body, 3 times",
            lambda: [_full(body, rules) for _ in range(3)],
        )
    )
    pipeline = in_process_service(env)
    bodies = submit_pool(pipeline, s3, emulator_url, count=60, n_pages=1, tag="profile")
    found.append(profiling.webhook_in_process(env, bodies))
    key = "incoming/cold/profile.pdf"
    put_documents(s3, {key: document_bytes(pages(1), key)})
    found.append(profiling.cold_start(env, _sqs_event(key, "profile")))
    return found


if __name__ == "__main__":
    sys.exit(main())
