"""Table 1 (webhook throughput, service vs floor) and table 5 (worker memory).

Realistic webhooks only: the service accepts a webhook for a file it submitted, so every file is first
submitted through the real path (S3 put → Pipeline.submit_object → the emulator, webhooks disabled there),
and the bodies are the prediction-result bodies of those request_file_ids with the pages the emulator read
from the documents.

- first delivery: each request completes a distinct pending file (8 S3 calls); wrk sends every body once
  (bench/webhook.lua) from a pool sized from the floor's measured rate, and the share of requests that were
  really first deliveries is reported.
- repeat: the same bodies again, files already done: the digest matches and nothing is written (4 calls).
The floor (bench/floor_app.py) runs in the same gunicorn setup and makes the same S3 calls.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.common import cpu_seconds, log, rss_kib, uss_kib
from bench.payloads import body_bytes, document_bytes, pages, webhook_body
from bench.stack import INPUT_BUCKET, App, put_documents
from bench.wrk import WrkResult, run_wrk
from devtools.emulator.control import EmulatorControl
from devtools.stack import TEST_SECRET
from service.models.source import SourceRef

SERVICE_PATH = "/webhooks/nanonets"
FLOOR_FIRST_PATH = "/webhooks/nanonets"
FLOOR_REPEAT_PATH = "/webhooks/nanonets?floor=repeat"


@dataclass
class Run:
    app: str  # "service" or "floor"
    pages: int
    delivery: str  # "first" or "repeat"
    results: list[WrkResult] = field(default_factory=list)
    worker_cpu_s: float = 0.0
    s3_cpu_s: float = 0.0
    served: int = 0  # webhooks the app answered, by its access log (including those wrk stopped waiting for)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return sum(r.p50_ms for r in self.results) / len(self.results)

    @property
    def p99_ms(self) -> float:
        return sum(r.p99_ms for r in self.results) / len(self.results)

    @property
    def first_share(self) -> float:
        sent = sum(r.sent for r in self.results)
        return sum(r.first for r in self.results) / sent if sent else 0.0

    @property
    def errors(self) -> int:
        return sum(r.non2xx + r.socket_errors for r in self.results)

    @property
    def worker_cpu_ms(self) -> float:
        return self.worker_cpu_s / self.served * 1000 if self.served else 0.0

    @property
    def s3_cpu_ms(self) -> float:
        return self.s3_cpu_s / self.served * 1000 if self.served else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "pages": self.pages,
            "delivery": self.delivery,
            "rps": self.rps,
            "requests": self.requests,
            "seconds": self.seconds,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "first_share": self.first_share,
            "errors": self.errors,
            "served": self.served,
            "worker_cpu_ms": self.worker_cpu_ms,
            "s3_cpu_ms": self.s3_cpu_ms,
            "rounds": [asdict(r) for r in self.results],
        }


@dataclass
class WebhookReport:
    seconds_per_run: float
    rounds: int
    runs: list[Run] = field(default_factory=list)
    pool: dict[int, int] = field(default_factory=dict)
    submit_rate: dict[int, float] = field(default_factory=dict)
    body_bytes: dict[int, int] = field(default_factory=dict)
    service_requests: int = 0

    def run(self, app: str, n_pages: int, delivery: str) -> Run:
        for run in self.runs:
            if (run.app, run.pages, run.delivery) == (app, n_pages, delivery):
                return run
        run = Run(app, n_pages, delivery)
        self.runs.append(run)
        return run

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds_per_run": self.seconds_per_run,
            "rounds": self.rounds,
            "runs": [r.as_dict() for r in self.runs],
            "pool": self.pool,
            "submit_rate": self.submit_rate,
            "body_bytes": self.body_bytes,
        }


def submit_pool(
    pipeline: Any, s3: Any, emulator_url: str, *, count: int, n_pages: int, tag: str, threads: int = 8
) -> list[bytes]:
    """Put `count` documents of `n_pages` pages, submit each through the pipeline, return their webhooks."""
    names = [f"incoming/bench/{tag}-{i:05d}.pdf" for i in range(count)]
    file_pages = {name: pages(n_pages, seed=i) for i, name in enumerate(names)}
    put_documents(s3, {name: document_bytes(file_pages[name], name) for name in names}, threads=threads)

    def submit(name: str) -> tuple[str, str | None]:
        outcome = pipeline.submit.submit(SourceRef(bucket=INPUT_BUCKET, key=name))
        return name, outcome.request_file_id

    with ThreadPoolExecutor(threads) as pool:
        submitted = dict(pool.map(submit, names))
    missing = [name for name, file_id in submitted.items() if not file_id]
    if missing:
        raise RuntimeError(f"{len(missing)} bench documents were not submitted, e.g. {missing[0]}")
    metadata = {f["request_file_id"]: f["request_metadata"] for f in EmulatorControl(emulator_url).files()}
    bodies = []
    for name, file_id in submitted.items():
        assert file_id is not None
        bodies.append(body_bytes(webhook_body(file_id, file_pages[name], metadata[file_id], Path(name).name)))
    return bodies


def write_bodies(path: Path, bodies: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(bodies) + b"\n")
    return path


def deliver_once(url: str, bodies: list[bytes], path: str, threads: int = 8) -> list[int]:
    """POST every body once (warm-up, or to make later deliveries repeats); the statuses answered."""
    session = requests.Session()

    def post(body: bytes) -> int:
        response = session.post(
            url + path,
            data=body,
            headers={"Content-Type": "application/json", "X-Webhook-Token": TEST_SECRET},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(post, bodies))


def wrk(app: App, bodies_file: Path, path: str, seconds: float) -> WrkResult:
    return run_wrk(app.url, bodies_file=bodies_file, path=path, token=TEST_SECRET, seconds=seconds)


def worker_memory(app: App) -> dict[str, int]:
    workers = app.workers()
    return {
        "rss_kib": max(rss_kib(pid) for pid in workers),
        "uss_kib": max(uss_kib(pid) for pid in workers),
        "workers": len(workers),
    }


def time_it(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _synthetic_bodies(count: int, n_pages: int) -> list[bytes]:
    """Bodies of the same shape and size for the floor's first deliveries (the floor parses nothing, so
    the ids need not be known; each body is distinct, so each raw put is new)."""
    metadata = json.dumps({"bucket": INPUT_BUCKET, "key": "incoming/bench/floor.pdf", "token": "t" * 32})
    return [
        body_bytes(webhook_body(str(uuid.UUID(int=i + 1)), pages(n_pages, seed=i), metadata))
        for i in range(count)
    ]


def drain(app: App) -> None:
    """Wait until the app has answered what wrk left queued when it stopped (sync workers serve the
    backlog in order, so a health check answered means the queue is empty): the next run must not share
    the CPU with this one's leftovers."""
    for _ in range(2):
        requests.get(app.url + "/healthz", timeout=120).raise_for_status()


class _Meter:
    """CPU seconds spent by the app's workers and by the S3 server over one wrk run and its drain, and the
    webhooks the app served meanwhile (its access log's lines: wrk counts only the answers it waited for)."""

    def __init__(self, app: App, s3_pid: int) -> None:
        self.app = app
        self.pids = app.workers()
        self.s3_pid = s3_pid
        self.worker = sum(cpu_seconds(p) for p in self.pids)
        self.s3 = cpu_seconds(s3_pid)
        self.log_path = app.process.log_path
        self.log_offset = self.log_path.stat().st_size if self.log_path else 0

    def add_to(self, run: Run) -> None:
        drain(self.app)
        run.worker_cpu_s += sum(cpu_seconds(p) for p in self.pids) - self.worker
        run.s3_cpu_s += cpu_seconds(self.s3_pid) - self.s3
        if self.log_path:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                run.served += log.read().count(b'"path":"/webhooks/nanonets"')


class _Cursor:
    """Walks a pool of bodies across wrk runs so that no body is sent twice in the first-delivery runs."""

    def __init__(self, name: str, bodies: list[bytes], work_dir: Path) -> None:
        self.name, self.bodies, self.work_dir, self.offset, self.files = name, bodies, work_dir, 0, 0

    def file(self) -> Path:
        self.files += 1
        return write_bodies(
            self.work_dir / f"{self.name}-{self.files}.txt", self.bodies[self.offset :] or self.bodies
        )

    def advance(self, result: WrkResult, threads: int = 2) -> None:
        self.offset += threads * result.max_sent

    def extend(self, more: list[bytes]) -> None:
        self.bodies += more


def throughput(
    *,
    service: App,
    floor: App,
    pipeline: Any,
    s3: Any,
    s3_pid: int,
    emulator_url: str,
    work_dir: Path,
    page_counts: tuple[int, ...] = (1, 10),
    seconds: float = 6.0,
    rounds: int = 2,
    reserve: int = 40,
) -> WebhookReport:
    """Table 1. For each body size: floor and service alternate (`rounds` runs of `seconds` each), first
    deliveries, then repeats."""
    report = WebhookReport(seconds_per_run=seconds, rounds=rounds)
    for n_pages in page_counts:
        tag = f"p{n_pages}"
        # Bodies delivered once here (warm-up, first deliveries) are the repeat runs' bodies.
        started = time.perf_counter()
        repeat_bodies = submit_pool(
            pipeline, s3, emulator_url, count=reserve, n_pages=n_pages, tag=f"{tag}-r"
        )
        report.submit_rate[n_pages] = reserve / (time.perf_counter() - started)
        report.body_bytes[n_pages] = sum(len(b) for b in repeat_bodies) // len(repeat_bodies)
        started = time.perf_counter()
        statuses = deliver_once(service.url, repeat_bodies, SERVICE_PATH)
        warm_rate = len(repeat_bodies) / (time.perf_counter() - started)
        statuses += deliver_once(floor.url, repeat_bodies, FLOOR_REPEAT_PATH)
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"warm-up webhooks failed: {sorted(set(statuses))}")
        report.service_requests += len(repeat_bodies)
        repeat_file = write_bodies(work_dir / f"{tag}-repeat.txt", repeat_bodies)

        # Enough distinct pending files for the service's first-delivery runs: 50% above what the warm-up
        # first deliveries suggest (the share of requests that really were first deliveries is reported).
        count = int(max(warm_rate, 10.0) * seconds * rounds * 1.5) + 20
        started = time.perf_counter()
        pool = submit_pool(pipeline, s3, emulator_url, count=count, n_pages=n_pages, tag=tag)
        report.pool[n_pages] = count
        report.submit_rate[n_pages] = count / (time.perf_counter() - started)
        log(f"webhook: {count} {n_pages}-page files submitted at {report.submit_rate[n_pages]:.1f}/s")
        cursors = {
            "floor": _Cursor(f"{tag}-floor", _synthetic_bodies(count, n_pages), work_dir),
            "service": _Cursor(f"{tag}-service", pool, work_dir),
        }
        apps = {"floor": (floor, FLOOR_FIRST_PATH), "service": (service, SERVICE_PATH)}
        for round_no in range(rounds):  # floor, service, service, floor, ...: a drift hits both alike
            for name in ("floor", "service") if round_no % 2 == 0 else ("service", "floor"):
                app, path = apps[name]
                run = report.run(name, n_pages, "first")
                meter = _Meter(app, s3_pid)
                result = wrk(app, cursors[name].file(), path, seconds)
                meter.add_to(run)
                run.results.append(result)
                cursors[name].advance(result)
                if name == "service":
                    report.service_requests += result.requests
        for round_no in range(rounds):
            order = (("service", service, SERVICE_PATH), ("floor", floor, FLOOR_REPEAT_PATH))
            for name, app, path in order if round_no % 2 == 0 else order[::-1]:
                run = report.run(name, n_pages, "repeat")
                meter = _Meter(app, s3_pid)
                result = wrk(app, repeat_file, path, seconds)
                meter.add_to(run)
                run.results.append(result)
                if name == "service":
                    report.service_requests += result.requests
        for delivery in ("first", "repeat"):
            s_run, f_run = report.run("service", n_pages, delivery), report.run("floor", n_pages, delivery)
            log(
                f"webhook {n_pages}p {delivery}: service {s_run.rps:.1f}/s floor {f_run.rps:.1f}/s "
                f"ratio {s_run.rps / f_run.rps:.2f}"
            )
    return report


# ---------------------------------------------------------------- table 5: worker memory


@dataclass
class MemoryPoint:
    requests: int
    rss_kib: list[int]
    uss_kib: list[int]
    rps: float = 0.0


@dataclass
class MemoryReport:
    points: list[MemoryPoint]
    target: int
    first_deliveries: int
    non2xx: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": [asdict(p) for p in self.points],
            "target": self.target,
            "first_deliveries": self.first_deliveries,
            "non2xx": self.non2xx,
            "seconds": self.seconds,
        }


def memory_run(
    app: App, bodies_file: Path, *, target: int = 10_000, chunk_seconds: float = 10, max_seconds: float = 240
) -> MemoryReport:
    """RSS of each worker idle, then after every wrk chunk until `target` requests have been answered."""
    workers = app.workers()
    points = [MemoryPoint(0, [rss_kib(p) for p in workers], [uss_kib(p) for p in workers])]
    total = first = non2xx = 0
    started = time.monotonic()
    while total < target and time.monotonic() - started < max_seconds:
        rate = points[-1].rps or 50.0
        seconds = max(2.0, min(chunk_seconds, (target - total) / rate + 0.5))
        result = wrk(app, bodies_file, SERVICE_PATH, seconds)
        total += result.requests
        first = max(first, result.first)  # each chunk starts over the same bodies: the most any reached
        non2xx += result.non2xx
        points.append(
            MemoryPoint(total, [rss_kib(p) for p in workers], [uss_kib(p) for p in workers], result.rps)
        )
        log(f"memory: {total} requests, worker RSS {[round(k / 1024, 1) for k in points[-1].rss_kib]} MiB")
    if app.workers() != workers:
        raise RuntimeError("a gunicorn worker was replaced during the memory run: the RSS series is broken")
    return MemoryReport(points, target, first, non2xx, time.monotonic() - started)


# ---------------------------------------------------------------- S3 calls per webhook


def count_s3_calls(
    env: dict[str, str], stub_url: str, pipeline: Any, s3: Any, emulator_url: str, count: int = 20
) -> dict[str, dict[str, float]]:
    """S3 calls the service really makes per webhook, by method, counted by bench/s3stub.py: `count` first
    deliveries of one-page files, then the same bodies again (repeats). In process, one at a time."""
    from bench.stack import in_process_client

    bodies = submit_pool(pipeline, s3, emulator_url, count=count, n_pages=1, tag="count")
    headers = {"Content-Type": "application/json", "X-Webhook-Token": TEST_SECRET}

    def calls() -> dict[str, int]:
        answer: dict[str, int] = requests.get(stub_url + "/_stub/calls", timeout=10).json()
        return answer

    per: dict[str, dict[str, float]] = {}
    with in_process_client(env) as client:
        for delivery in ("first", "repeat"):
            before = calls()
            for body in bodies:
                response = client.post(SERVICE_PATH, data=body, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"webhook answered {response.status_code}: {response.data!r}")
            after = calls()
            per[delivery] = {
                key: (after.get(key, 0) - before.get(key, 0)) / count
                for key in sorted(set(after) | set(before))
                if after.get(key, 0) != before.get(key, 0)
            }
    return per


def by_method(counts: dict[str, float]) -> dict[str, float]:
    """{"PUT": 4, "PUT 412": 1, "HEAD": 1} → {"put": 5, "head": 1}."""
    methods: dict[str, float] = {}
    for key, value in counts.items():
        method = key.split()[0].lower()
        methods[method] = methods.get(method, 0.0) + value
    return methods
