"""Table 1 (webhook throughput, service vs floor, on two S3 servers), the S3 calls per webhook, and
table 5 (worker memory).

Realistic webhooks only: the service accepts a webhook for a file it submitted, so every file is first
submitted through the real path (S3 put → SubmitDocument.submit → the emulator, webhooks disabled there),
and the bodies are the prediction-result bodies of those request_file_ids with the pages the emulator read
from the documents.

- S3 calls: `count_s3_calls` counts, on bench/s3stub.py, every call of a first delivery and of a repeat,
  by method, condition, outcome and kind of key. That count is the floor's plan (bench/floor_app.py), so
  the floor makes the calls the service makes in this very run; `count_floor_calls` checks it does.
- first delivery: each request completes a distinct pending file; wrk sends every body once
  (bench/webhook.lua) from a pool sized from the service's measured rate, and the share of requests that
  were really first deliveries is reported.
- repeat: the same bodies again, files already done: the digest matches and nothing is written.
Both run on moto (a real S3 implementation, whose own CPU dominates) and on the S3 stand-in (where the
service's own cost shows).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from bench.common import cpu_seconds, log, rss_kib, uss_kib
from bench.floor_app import plan_name
from bench.payloads import body_bytes, document_bytes, pages, webhook_body
from bench.s3stub import S3Call
from bench.stack import INPUT_BUCKET, App, put_documents
from bench.wrk import WrkResult, run_wrk
from devtools.emulator.control import EmulatorControl
from devtools.stack import TEST_SECRET
from service.models.source import SourceRef

if TYPE_CHECKING:
    from bench.gap_bench import GapReport

SERVICE_PATH = "/webhooks/nanonets"
BACKENDS = {"moto": "moto", "stub": "S3 stand-in"}  # the S3 servers of table 1, as the report names them


def floor_path(n_pages: int, delivery: str) -> str:
    return f"{SERVICE_PATH}?plan={plan_name(n_pages, delivery)}"


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
    """Table 1 on one S3 server."""

    backend: str  # a key of BACKENDS
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

    def ratio(self, n_pages: int, delivery: str) -> float:
        floor = self.run("floor", n_pages, delivery).rps
        return self.run("service", n_pages, delivery).rps / floor if floor else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "seconds_per_run": self.seconds_per_run,
            "rounds": self.rounds,
            "runs": [r.as_dict() for r in self.runs],
            "pool": self.pool,
            "submit_rate": self.submit_rate,
            "body_bytes": self.body_bytes,
        }


def submit_pool(
    pipeline: Any, s3: Any, emulator_url: str, *, count: int, n_pages: int, tag: str, threads: int = 4
) -> list[bytes]:
    """Put `count` documents of `n_pages` pages, submit each through the pipeline, return their webhooks.
    Four threads: on the stand-in, eight submit no faster (this process's CPU is the limit) and race on the
    pacing state until one gives up ("kept changing under concurrent writers")."""
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


def _synthetic_bodies(count: int, n_pages: int, salt: str = "") -> list[bytes]:
    """Bodies of the same shape and size for the floor's first deliveries (the floor parses nothing, so
    the ids need not be known; each body is distinct, so each key the floor creates from it is new)."""
    metadata = json.dumps(
        {"bucket": INPUT_BUCKET, "key": f"incoming/bench/floor{salt}.pdf", "token": "t" * 32}
    )
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


def _expected_rate(app: str, rates: dict[str, list[float]], earlier: list[float]) -> float:
    """First deliveries a second that `app` may reach in its next run, to have enough pending files for
    it: its own best so far; else (the service's first run) the lower of the floor's, just measured, and
    the service's own with fewer pages. The floor's bodies cost nothing: three times that for it."""
    own, floor = max(rates[app], default=0.0), max(rates["floor"])
    rate = own or min(floor, max(earlier, default=floor))
    return 3 * rate if app == "floor" else rate


class _Cursor:
    """Walks a pool of bodies across wrk runs so that no body is sent twice in the first-delivery runs,
    topping the pool up with `more(count)` before a run that could use more than are left."""

    def __init__(self, name: str, work_dir: Path, more: Callable[[int], list[bytes]]) -> None:
        self.name, self.work_dir, self.more = name, work_dir, more
        self.bodies: list[bytes] = []
        self.offset = self.files = 0

    def file(self, need: int) -> Path:
        left = len(self.bodies) - self.offset
        if left < need:
            self.bodies += self.more(need - left)
        self.files += 1
        return write_bodies(self.work_dir / f"{self.name}-{self.files}.txt", self.bodies[self.offset :])

    def advance(self, result: WrkResult, threads: int = 2) -> None:
        self.offset += threads * result.max_sent


def throughput(
    *,
    backend: str,
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
    reserve: int = 24,
    margin: float = 1.5,
) -> WebhookReport:
    """Table 1 on one S3 server. For each body size: floor and service alternate (`rounds` runs of
    `seconds` each), first deliveries, then repeats."""
    report = WebhookReport(backend=backend, seconds_per_run=seconds, rounds=rounds)
    earlier: list[float] = []  # the service's first-delivery rates with fewer pages: faster than with more
    for n_pages in page_counts:
        tag = f"{backend}-p{n_pages}"
        # Bodies delivered once here (warm-up, first deliveries) are the repeat runs' bodies.
        repeat_bodies = submit_pool(
            pipeline, s3, emulator_url, count=reserve, n_pages=n_pages, tag=f"{tag}-r"
        )
        report.body_bytes[n_pages] = sum(len(b) for b in repeat_bodies) // len(repeat_bodies)
        started = time.perf_counter()
        statuses = deliver_once(service.url, repeat_bodies, SERVICE_PATH)
        rates: dict[str, list[float]] = {
            "service": [],
            "floor": [len(repeat_bodies) / (time.perf_counter() - started), 10.0],
        }
        statuses += deliver_once(floor.url, repeat_bodies, floor_path(n_pages, "repeat"))
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"warm-up webhooks failed: {sorted(set(statuses))}")
        report.service_requests += len(repeat_bodies)
        repeat_file = write_bodies(work_dir / f"{tag}-repeat.txt", repeat_bodies)
        pool = _Pool(pipeline, s3, emulator_url, n_pages, tag)
        cursors = {
            "service": _Cursor(f"{tag}-service", work_dir, pool.submit),
            # The floor parses nothing: bodies of the same size, made here, no submission needed.
            "floor": _Cursor(f"{tag}-floor", work_dir, pool.synthetic),
        }
        for delivery in ("first", "repeat"):
            paths = {"floor": floor_path(n_pages, delivery), "service": SERVICE_PATH}
            apps = {"floor": floor, "service": service}
            for round_no in range(rounds):  # floor, service, service, floor, ...: a drift hits both alike
                for name in ("floor", "service") if round_no % 2 == 0 else ("service", "floor"):
                    run = report.run(name, n_pages, delivery)
                    if delivery == "first":
                        # The share of requests that really were first deliveries is reported.
                        rate = _expected_rate(name, rates, earlier)
                        bodies = cursors[name].file(int(rate * seconds * margin) + 32)
                    else:
                        bodies = repeat_file
                    meter = _Meter(apps[name], s3_pid)
                    result = wrk(apps[name], bodies, paths[name], seconds)
                    meter.add_to(run)
                    run.results.append(result)
                    if delivery == "first":
                        cursors[name].advance(result)
                        rates[name].append(result.rps)
                    if name == "service":
                        report.service_requests += result.requests
            s_run, f_run = report.run("service", n_pages, delivery), report.run("floor", n_pages, delivery)
            log(
                f"webhook {backend} {n_pages}p {delivery}: service {s_run.rps:.1f}/s floor {f_run.rps:.1f}/s "
                f"ratio {report.ratio(n_pages, delivery):.2f}"
            )
        earlier += rates["service"]
        report.pool[n_pages] = pool.submitted
        report.submit_rate[n_pages] = pool.submitted / pool.seconds if pool.seconds else 0.0
        log(f"webhook {backend}: {pool.submitted} {n_pages}-page files submitted at {pool.rate:.1f}/s")
    return report


@dataclass
class _Pool:
    """Pending files for the service's first deliveries, submitted as the runs need them."""

    pipeline: Any
    s3: Any
    emulator_url: str
    n_pages: int
    tag: str
    submitted: int = 0
    seconds: float = 0.0
    synthesized: int = 0

    @property
    def rate(self) -> float:
        return self.submitted / self.seconds if self.seconds else 0.0

    def submit(self, count: int) -> list[bytes]:
        started = time.perf_counter()
        tag = f"{self.tag}-{self.submitted}"
        bodies = submit_pool(
            self.pipeline, self.s3, self.emulator_url, count=count, n_pages=self.n_pages, tag=tag
        )
        self.submitted += count
        self.seconds += time.perf_counter() - started
        return bodies

    def synthetic(self, count: int) -> list[bytes]:
        self.synthesized += count
        return _synthetic_bodies(count, self.n_pages, salt=f"-{self.tag}-{self.synthesized}")


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


@dataclass
class S3CallCounts:
    """The S3 calls of one webhook, counted on bench/s3stub.py: the service's (the floor's plans), and the
    floor's own, counted the same way to show it replays them."""

    webhooks: int  # counted over this many webhooks per body size and delivery
    service: dict[str, list[S3Call]] = field(default_factory=dict)  # by plan_name(pages, delivery)
    floor: dict[str, list[S3Call]] = field(default_factory=dict)

    def calls(self, n_pages: int, delivery: str) -> list[S3Call]:
        return self.service.get(plan_name(n_pages, delivery), [])

    def total(self, n_pages: int, delivery: str) -> float:
        return sum(call.per_webhook for call in self.calls(n_pages, delivery))

    def floor_differences(self) -> list[str]:
        """Where the floor's counted calls differ from the service's, one line each; empty when none. A call
        made on a share of the requests is made on that share of each worker's: over `webhooks` requests
        shared by two workers, each may round its share down."""
        found = []
        for name, calls in self.service.items():
            wanted = {c.label + " " + c.kind: c.per_webhook for c in calls}
            made = {c.label + " " + c.kind: c.per_webhook for c in self.floor.get(name, [])}
            for call in sorted(set(wanted) | set(made)):
                share = wanted.get(call, 0.0)
                slack = 0.01 if share == int(share) else 2.0 / self.webhooks
                if abs(share - made.get(call, 0.0)) > slack:
                    found.append(
                        f"{name}: {call}: service {wanted.get(call, 0.0):g}, floor {made.get(call, 0.0):g}"
                    )
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "webhooks": self.webhooks,
            "service": {name: [asdict(c) for c in calls] for name, calls in self.service.items()},
            "floor": {name: [asdict(c) for c in calls] for name, calls in self.floor.items()},
        }


@dataclass
class WebhookBench:
    """Table 1 on each S3 server, and the S3 calls per webhook its floor replays."""

    calls: S3CallCounts
    backends: list[WebhookReport] = field(default_factory=list)
    gap: GapReport | None = None  # table 1b, on the stand-in

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls.as_dict(),
            "backends": [b.as_dict() for b in self.backends],
            "gap": self.gap.as_dict() if self.gap else None,
        }


def stub_calls(stub_url: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = requests.get(stub_url + "/_stub/calls", timeout=10).json()["calls"]
    return answer


def count_s3_calls(
    env: dict[str, str],
    stub_url: str,
    pipeline: Any,
    s3: Any,
    emulator_url: str,
    *,
    page_counts: tuple[int, ...] = (1, 10),
    count: int = 20,
) -> S3CallCounts:
    """S3 calls the service really makes per webhook, counted by bench/s3stub.py: for each body size,
    `count` first deliveries of files submitted just before, then the same bodies again (repeats).
    In process, one at a time, nothing else talking to the stub. One webhook first, not counted: the count
    is a warm process's, as in table 1's runs (a call a process makes at most once a minute, such as the
    note of the last webhook's time, then shows only if it is made more often than that)."""
    from bench.stack import in_process_client

    counts = S3CallCounts(webhooks=count)
    headers = {"Content-Type": "application/json", "X-Webhook-Token": TEST_SECRET}
    with in_process_client(env) as client:
        for n_pages in page_counts:
            warm_up, *bodies = submit_pool(
                pipeline, s3, emulator_url, count=count + 1, n_pages=n_pages, tag=f"count{n_pages}"
            )
            client.post(SERVICE_PATH, data=warm_up, headers=headers)
            for delivery in ("first", "repeat"):
                before = stub_calls(stub_url)
                for body in bodies:
                    response = client.post(SERVICE_PATH, data=body, headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"webhook answered {response.status_code}: {response.data!r}")
                counts.service[plan_name(n_pages, delivery)] = S3Call.between(
                    before, stub_calls(stub_url), count
                )
    return counts


def count_floor_calls(floor: App, stub_url: str, counts: S3CallCounts) -> None:
    """The floor's own calls per webhook, on the stub it runs against, for every plan: into counts.floor."""
    for name in counts.service:
        n_pages, delivery = name.split("-")
        bodies = _synthetic_bodies(counts.webhooks, int(n_pages), salt=f"check-{name}")
        before = stub_calls(stub_url)
        statuses = deliver_once(floor.url, bodies, floor_path(int(n_pages), delivery), threads=1)
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"the floor answered {sorted(set(statuses))} to plan {name}")
        counts.floor[name] = S3Call.between(before, stub_calls(stub_url), counts.webhooks)
