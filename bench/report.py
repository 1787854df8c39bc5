"""docs/BENCHMARKS.md from one run's results; the Notes section is bench/NOTES.md, written by hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.burst_bench import BurstReport, PacedRun
from bench.coldstart_bench import OPTIONAL, ColdReport
from bench.common import Machine, median
from bench.gap_bench import GapReport
from bench.normalize_bench import Row
from bench.profiles import Profile
from bench.s3stub import KEY_KINDS, SOURCE, S3Call
from bench.webhook_bench import BACKENDS, MemoryReport, Run, S3CallCounts, WebhookBench, WebhookReport

NOTES = Path(__file__).with_name("NOTES.md")
MEMORY_NOISE_KIB = 1024  # "no growth beyond noise": under 1 MiB per worker after the warm-up


@dataclass
class Goal:
    table: str
    goal: str
    measured: str
    met: bool
    margin: str

    def row(self) -> str:
        status = "met" if self.met else "**missed**"
        return f"| {self.table} | {self.goal} | {self.measured} | {status} | {self.margin} |"


def at_least(value: float, goal: float) -> tuple[bool, str]:
    if value >= goal:
        return True, f"{value - goal:+.2f} above"
    return False, f"short by {goal - value:.2f} ({(goal - value) / goal:.0%})"


def at_most(value: float, goal: float, unit: str = "") -> tuple[bool, str]:
    if value <= goal:
        return True, f"{goal - value:.2f}{unit} under"
    return False, f"over by {value - goal:.2f}{unit} ({value / goal:.2f}x the goal)"


# ---------------------------------------------------------------- goals


def webhook_goals(webhook: WebhookBench) -> list[Goal]:
    """Table 1 on each S3 server, and the S3 calls per webhook (default settings, analytics rows on)."""
    found: list[Goal] = []
    for report in webhook.backends:
        for n_pages in sorted(report.pool):
            for delivery in ("first", "repeat"):
                met, margin = at_least(report.ratio(n_pages, delivery), 0.9)
                label = "first delivery" if delivery == "first" else "repeat"
                found.append(
                    Goal(
                        "1",
                        f"{BACKENDS[report.backend]}, {n_pages}-page {label}: service/floor req/s >= 0.9",
                        f"{report.ratio(n_pages, delivery):.2f}",
                        met,
                        margin,
                    )
                )
    calls = webhook.calls
    page_counts = sorted({int(name.split("-")[0]) for name in calls.service})
    for delivery, label, goal in (("first", "first delivery", 5), ("repeat", "repeat", 2)):
        worst = max(page_counts, key=lambda n: calls.total(n, delivery), default=None)
        if worst is None:
            continue
        total = calls.total(worst, delivery)
        met, margin = at_most(total, goal)
        found.append(
            Goal(
                "S3",
                f"S3 calls per {label} <= {goal}",
                f"{total:g} ({_by_method(calls.calls(worst, delivery))})",
                met,
                margin,
            )
        )
    return found


def goals(
    webhook: WebhookBench | None,
    rows: list[Row] | None,
    burst: BurstReport | None,
    cold: ColdReport | None,
    memory: MemoryReport | None,
) -> list[Goal]:
    found: list[Goal] = []
    if webhook:
        found += webhook_goals(webhook)
    if rows:
        worst = max(rows, key=lambda r: r.ratio)
        met, margin = at_most(worst.ratio, 3.0, "x")
        found.append(
            Goal(
                "2",
                "normalize + validate <= 3x json.loads (every size)",
                f"{worst.ratio:.1f}x at {worst.pages} page(s); "
                + ", ".join(f"{r.pages}: {r.ratio:.1f}x" for r in rows),
                met,
                margin,
            )
        )
        by_pages = {r.pages: r for r in rows}
        if 10 in by_pages and 1000 in by_pages:
            flat = (by_pages[1000].normalize_s / 1000) / (by_pages[10].normalize_s / 10)
            met, margin = at_most(flat, 1.2)
            found.append(Goal("2", "per-page time 1,000 pages / 10 pages <= 1.2", f"{flat:.2f}", met, margin))
        worst_mem = max(rows, key=lambda r: r.normalize_peak / r.body_bytes)
        peak = worst_mem.normalize_peak / worst_mem.body_bytes
        rss = [r for r in rows if r.normalize_rss is not None]
        rss_peak = max((r.normalize_rss or 0) / r.body_bytes for r in rss) if rss else 0.0
        # judged by the worse of the two measures: tracemalloc misses what pydantic-core allocates in Rust
        met, margin = at_most(max(peak, rss_peak), 5.0, "x")
        found.append(
            Goal(
                "2",
                "peak memory <= 5x the body (every size)",
                f"tracemalloc {peak:.1f}x at {worst_mem.pages} page(s); "
                + ", ".join(f"{r.pages}: {r.normalize_peak / r.body_bytes:.1f}x" for r in rows)
                + "".join(
                    f"; peak RSS growth {r.pages}: {(r.normalize_rss or 0) / r.body_bytes:.1f}x" for r in rss
                ),
                met,
                margin,
            )
        )
    if burst:
        run, poll = burst.paced, burst.paced.poll
        assert poll is not None
        met, margin = at_most(run.ratio, 1.1)
        found.append(
            Goal(
                "3",
                "paced burst: completion time / (pages / limit) <= 1.1",
                f"{run.ratio:.2f} ({run.documents} pages at {run.pages_per_minute}/min, "
                f"a {run.window_seconds:g} s minute)",
                met,
                margin,
            )
        )
        clean = (
            poll.in_dlq == 0
            and run.lost == 0
            and run.duplicates == 0
            and run.records_missing == 0
            and not poll.timed_out
        )
        found.append(
            Goal(
                "3",
                "0 in the DLQ, 0 lost, 0 duplicates",
                f"DLQ {poll.in_dlq}, lost {run.lost}, duplicates {run.duplicates}, "
                f"records missing {run.records_missing}" + (", timed out" if poll.timed_out else ""),
                clean,
                "" if clean else "see table 3",
            )
        )
    if cold:
        for name, subject in (("events_handler", "events"), ("http_handler", "http")):
            ratio = cold.paired_ratio(subject)  # CPU, the median of the rounds' paired ratios
            low, high = cold.paired_quartiles(subject)
            wall = cold.paired_ratio(subject, "wall")
            met, margin = at_most(ratio, 1.15)
            found.append(
                Goal(
                    "4",
                    f"cold start `{name}` / dependencies + one S3 client <= 1.15 (CPU, paired)",
                    f"{ratio:.2f} (middle half {low:.2f}-{high:.2f}; wall {wall:.2f})",
                    met,
                    margin,
                )
            )
    if memory:
        growth = memory_growth(memory)
        if growth is not None:
            met = growth <= MEMORY_NOISE_KIB
            found.append(
                Goal(
                    "5",
                    f"worker RSS flat after warm-up (growth < {MEMORY_NOISE_KIB // 1024} MiB over the run)",
                    f"{growth / 1024:+.2f} MiB after {memory.points[-1].requests:,} requests",
                    met,
                    "" if met else f"over by {(growth - MEMORY_NOISE_KIB) / 1024:.2f} MiB",
                )
            )
        if memory.points[-1].requests < memory.target:
            found.append(
                Goal(
                    "5",
                    f"{memory.target:,} requests",
                    f"{memory.points[-1].requests:,}",
                    False,
                    "time cap hit",
                )
            )
    return found


def warm_point(memory: MemoryReport) -> int:
    """The first checkpoint past 1,000 requests (every first delivery done, caches filled)."""
    return next((i for i, p in enumerate(memory.points) if p.requests >= 1000), len(memory.points) - 1)


def memory_growth(memory: MemoryReport) -> int | None:
    warm = warm_point(memory)
    if warm >= len(memory.points) - 1:
        return None
    first, last = memory.points[warm], memory.points[-1]
    return max(b - a for a, b in zip(first.rss_kib, last.rss_kib, strict=True))


# ---------------------------------------------------------------- sections


def section_webhook(bench: WebhookBench, s3_calls: S3CallCounts | None) -> list[str]:
    runs = "; ".join(
        f"on {BACKENDS[r.backend]} {r.rounds} run{'s' if r.rounds > 1 else ''} of {r.seconds_per_run:g} s"
        for r in bench.backends
    )
    out = [
        "## 1. Webhook throughput",
        "",
        "`POST /webhooks/nanonets` of the service (`service.web:create_app()`) against the floor "
        "(`bench/floor_app.py`: a bare Flask endpoint that reads the body and makes the S3 calls the service "
        "was counted making in this run, below), both under gunicorn with the service's own config "
        "(`service/gunicorn_conf.py`, 2 sync workers, JSON access log). Every row runs on two S3 servers: "
        "**moto**, a full S3 in Python whose own CPU per call (~5 ms) dominates, and the **S3 stand-in** "
        "(`bench/s3stub.py`, in memory, ~0.4 ms per call), where the service's own cost shows. Load: "
        f"`wrk -t2 -c16` with `bench/webhook.lua`, per row {runs}, floor and service alternating.",
        "",
        "- **first delivery**: each request completes a distinct file the service submitted through the "
        "real path (S3 put → `SubmitDocument.submit` → the emulator, its webhooks off), so the ledger "
        "knows it.",
        "- **repeat**: the same webhook again for a file already done: the digest matches and nothing is "
        "written.",
        "",
        *s3_calls_lines(s3_calls),
        "| body | delivery | S3 | app | req/s | p50 ms | p99 ms | worker CPU ms/req | S3 server CPU ms/req "
        "| first-delivery share | service/floor | worker CPU floor/service |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    page_counts = sorted({n for report in bench.backends for n in report.pool})
    for n_pages in page_counts:
        for delivery in ("first", "repeat"):
            for report in bench.backends:
                if n_pages not in report.pool:
                    continue
                service, floor = (
                    report.run("service", n_pages, delivery),
                    report.run("floor", n_pages, delivery),
                )
                for run in (service, floor):
                    ratios = ("", "")
                    if run is service:
                        cpu = floor.worker_cpu_ms / service.worker_cpu_ms if service.worker_cpu_ms else 0.0
                        ratios = (f"**{report.ratio(n_pages, delivery):.2f}**", f"{cpu:.2f}")
                    out.append(_throughput_row(report, run, ratios))
    pools = "; ".join(
        f"on {BACKENDS[r.backend]} "
        + ", ".join(
            f"{r.pool[n]} {n}-page files submitted at {r.submit_rate[n]:.1f}/s" for n in sorted(r.pool)
        )
        for r in bench.backends
    )
    out += [
        "",
        "Worker CPU is the user+system time of both gunicorn workers per webhook served (counted in the "
        "access log, so the requests still queued when wrk stopped count too: each run waits for the app "
        "to drain before the next starts); S3 server CPU the same for moto or the stand-in. The last column "
        "is the floor's worker CPU per webhook over the service's: a second view of the same ratio, which "
        "other processes on the machine disturb less than they disturb req/s. Pools: files submitted "
        "before each service run, for 1.5 times the rate it is expected to reach (its own so far, else the "
        "lower of the floor's and its own with fewer pages): " + pools + ".",
        "",
    ]
    if bench.gap is not None:
        out += section_gap(bench.gap)
    return out


def section_gap(gap: GapReport) -> list[str]:
    floor = gap.median("floor")
    out = [
        "**1b. Where the stand-in's gap goes** (one-page repeats; bench/gap_bench.py): each app alone "
        f"under gunicorn, one sync worker, webhooks sent one at a time, {gap.rounds} interleaved rounds of "
        f"{gap.per_round}; the median over the rounds of the worker's CPU per webhook. The cut-down app is "
        "the service's own app whose webhook view makes only a repeat's two S3 calls through the service's "
        "adapters (bench/cutdown_app.py): floor → cut-down app is what the web layer and the adapters add, "
        "cut-down app → service what the webhook's own work adds.",
        "",
        "| app | worker CPU ms per webhook | floor / app | rounds |",
        "| --- | ---: | ---: | --- |",
    ]
    for app, values in gap.cpu_ms.items():
        median = gap.median(app)
        ratio = floor / median if median else 0.0
        out.append(f"| {app} | {median:.2f} | {ratio:.2f} | {', '.join(f'{v:.1f}' for v in values)} |")
    return [*out, ""]


def _throughput_row(report: WebhookReport, run: Run, ratios: tuple[str, str]) -> str:
    share = f"{run.first_share:.0%}" if run.delivery == "first" else "0%"
    errors = f" ({run.errors} errors)" if run.errors else ""
    return (
        f"| {run.pages} page{'s' if run.pages > 1 else ''} ({report.body_bytes[run.pages] / 1024:.1f} KiB) "
        f"| {run.delivery} | {BACKENDS[report.backend]} | {run.app} | {run.rps:.1f}{errors} "
        f"| {run.p50_ms:.0f} | {run.p99_ms:.0f} | {run.worker_cpu_ms:.1f} | {run.s3_cpu_ms:.1f} | {share} "
        f"| {ratios[0]} | {ratios[1]} |"
    )


def _by_method(calls: list[S3Call]) -> str:
    """ "3 PUT, 1 GET, 1 DELETE" """
    methods: dict[str, float] = {}
    for call in calls:
        methods[call.method] = methods.get(call.method, 0.0) + call.per_webhook
    return ", ".join(f"{n:g} {method}" for method, n in methods.items())


def _size(n_bytes: int) -> str:
    return f"{n_bytes} B" if n_bytes < 1024 else f"{n_bytes / 1024:.1f} KiB"


def _kind_cell(calls: list[S3Call], kind: str) -> str:
    """ "1 GET (612 B), 1 PUT If-Match (630 B)" """
    return ", ".join(
        f"{call.per_webhook:g} {call.label}" + (f" ({_size(call.bytes)})" if call.bytes else "")
        for call in calls
        if call.kind == kind
    )


def s3_calls_lines(s3_calls: S3CallCounts | None) -> list[str]:
    """The service's S3 calls per webhook by kind of key, as counted on the stand-in, and whether the
    floor (which replays them) was counted making the same."""
    if not s3_calls or not s3_calls.service:
        return []
    page_counts = sorted({int(name.split("-")[0]) for name in s3_calls.service})
    shown = page_counts[0]
    first, repeat = s3_calls.calls(shown, "first"), s3_calls.calls(shown, "repeat")
    order = [kind for _, kind in KEY_KINDS] + [SOURCE]
    kinds = sorted(
        {c.kind for c in first + repeat}, key=lambda k: order.index(k) if k in order else len(order)
    )
    out = [
        "**S3 calls per webhook**, counted on the stand-in (`GET /_stub/calls` of `bench/s3stub.py`, by "
        "method, condition, outcome and kind of key, with the mean body size): "
        f"{s3_calls.webhooks} first deliveries of {shown}-page webhooks, then the same {s3_calls.webhooks} "
        "again, in process, one at a time, with the default settings (analytics rows on: the service has "
        "no setting to turn them off).",
        "",
        "| key | first delivery | repeat |",
        "| --- | --- | --- |",
        *(f"| {kind} | {_kind_cell(first, kind)} | {_kind_cell(repeat, kind)} |" for kind in kinds),
        f"| **total** | **{s3_calls.total(shown, 'first'):g}** ({_by_method(first)}) "
        f"| **{s3_calls.total(shown, 'repeat'):g}** ({_by_method(repeat)}) |",
        "",
    ]
    for n_pages in page_counts[1:]:
        same = all(
            [(c.label, c.kind, c.per_webhook) for c in s3_calls.calls(n_pages, d)]
            == [(c.label, c.kind, c.per_webhook) for c in s3_calls.calls(shown, d)]
            for d in ("first", "repeat")
        )
        out.append(
            f"{n_pages}-page webhooks: "
            + (
                "the same calls (larger bodies)."
                if same
                else f"{s3_calls.total(n_pages, 'first'):g} calls on a first delivery "
                f"({_by_method(s3_calls.calls(n_pages, 'first'))}), {s3_calls.total(n_pages, 'repeat'):g} "
                f"on a repeat ({_by_method(s3_calls.calls(n_pages, 'repeat'))})."
            )
        )
    differences = s3_calls.floor_differences()
    if not s3_calls.floor:
        out.append("The floor's own calls were not counted in this run.")
    elif not differences:
        out.append(
            "The floor replays these calls from this count (its plan, `FLOOR_PLAN`); counted the same way "
            "on the stand-in, it makes the same calls as the service, kind by kind, for every body size "
            "and delivery."
        )
    else:
        out.append("**The floor's counted calls differ from the service's:** " + "; ".join(differences) + ".")
    return [*out, ""]


def section_normalize(rows: list[Row]) -> list[str]:
    by_pages = {r.pages: r for r in rows}
    out = [
        "## 2. Normalization scaling",
        "",
        "Webhook bodies (prediction-result shape) of N pages, each page a receipt: 4 fields and a 3x3 table "
        "(`bench/payloads.py`). **normalize + validate** = `parse_payload_bytes(body)` (what the webhook "
        "runs: the body decoded by pydantic-core's JSON parser, then validated once into the lean view, an "
        "entry at a time) + `normalize_file(...)` with the sample rules (`validate_document`); the "
        "**full path** adds `document_digest` and `to_json_bytes`, everything a first-delivery webhook "
        "computes. Times per page: CPU time of the process, best of 7 interleaved rounds; peak memory by "
        "tracemalloc, as a multiple "
        "of the body's size.",
        "",
        "| pages | body | json.loads µs/page | normalize + validate µs/page | ratio | full path µs/page "
        "| full / json.loads | peak json.loads | peak normalize |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(
            f"| {r.pages:,} | {r.body_bytes / 1024:,.1f} KiB | {r.per_page_us(r.loads_s):.1f} "
            f"| {r.per_page_us(r.normalize_s):.1f} | **{r.ratio:.1f}x** | {r.per_page_us(r.full_s):.1f} "
            f"| {r.full_ratio:.1f}x | {r.loads_peak / r.body_bytes:.1f}x "
            f"| **{r.normalize_peak / r.body_bytes:.1f}x** |"
        )
    out += [
        "",
        *(
            f"Peak memory of the {r.pages:,}-page body by the resident set instead (growth of VmHWM in a "
            "fresh process, which also counts what pydantic-core allocates in Rust and tracemalloc does "
            f"not see): json.loads **{(r.loads_rss or 0) / r.body_bytes:.1f}x**, normalize + validate "
            f"**{(r.normalize_rss or 0) / r.body_bytes:.1f}x** the body."
            for r in rows
            if r.loads_rss is not None and r.normalize_rss is not None
        ),
        "",
        "Where the time goes (µs/page): normalize + validate as above (the collector on, as in the service, "
        "which holds it off inside `parse_payload_bytes` and `normalize_file`: `service/core/collector.py`), "
        "after `gc.freeze()`, with the GC off throughout; each stage alone (parse_payload = "
        "`parse_payload_bytes`); and, for reference, the full payload models (`PredictionResponse`) "
        "validated from a dict (`json.loads` + `model_validate`) and from the bytes (`model_validate_json`).",
        "",
        "| pages | GC on | gc.freeze() | GC off | parse_payload | normalize_file | document_digest "
        "| to_json_bytes | loads + model_validate | model_validate_json |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        s = r.stages_s
        out.append(
            f"| {r.pages:,} | {r.per_page_us(r.normalize_s):.1f} | {r.per_page_us(r.normalize_frozen_s):.1f} "
            f"| {r.per_page_us(r.normalize_nogc_s):.1f} | {r.per_page_us(s['parse_payload']):.1f} "
            f"| {r.per_page_us(s['normalize_file']):.1f} | {r.per_page_us(s['document_digest']):.1f} "
            f"| {r.per_page_us(s['to_json_bytes']):.1f} | {r.per_page_us(s['validate_dict']):.1f} "
            f"| {r.per_page_us(s['validate_json']):.1f} |"
        )
    if 10 in by_pages and 1000 in by_pages:
        a, b = by_pages[10], by_pages[1000]

        def slope(attr: str) -> float:
            return float((getattr(b, attr) / 1000) / (getattr(a, attr) / 10))

        out += [
            "",
            f"Per-page time, 1,000 pages / 10 pages: normalize + validate **{slope('normalize_s'):.2f}**; "
            f"after gc.freeze() {slope('normalize_frozen_s'):.2f}; GC off {slope('normalize_nogc_s'):.2f}; "
            f"json.loads itself {slope('loads_s'):.2f}.",
        ]
    return [*out, ""]


def _burst_row(name: str, run: PacedRun) -> str:
    poll = run.poll
    assert poll is not None
    limit = f"{run.pages_per_minute}" if run.pages_per_minute else "none"
    ideal = f"{run.ideal_seconds:.1f}" if run.pages_per_minute else ""
    ratio = f"**{run.ratio:.2f}**" if run.pages_per_minute else f"({run.rate:.1f} documents/s)"
    statuses = ", ".join(f"{k}: {v}" for k, v in run.status_counts.items())
    timed_out = " (timed out)" if poll.timed_out else ""
    return (
        f"| {name} | {run.documents:,} | {limit} | {ideal} | {run.seconds:.1f}{timed_out} | {ratio} "
        f"| {statuses} | {poll.batches} | {poll.redeliveries} | {poll.delayed_redeliveries} "
        f"| {poll.max_receive_count} | {poll.in_dlq} | {run.lost} | {run.duplicates} "
        f"| {run.records_missing} |"
    )


def section_burst(report: BurstReport) -> list[str]:
    paced, poll = report.paced, report.paced.poll
    assert poll is not None
    return [
        "## 3. Paced burst",
        "",
        f"{paced.documents} one-page documents at once through the Lambda events path against a "
        f"pages-per-minute limit, time scaled by {paced.time_scale:g} (a minute lasts "
        f"{paced.window_seconds:g} s). Their S3 "
        f"notifications go to a real SQS queue (moto server) made as `serverless.yml` makes it: "
        f"VisibilityTimeout {paced.visibility_timeout} s (scaled, never below the events function's own "
        f"timeout), RedrivePolicy maxReceiveCount "
        f"{paced.max_receive_count} to a DLQ. A poller plays Lambda's (`devtools/lambda_sqs.py`): "
        f"{report.concurrency} warm containers (processes that import `service.aws_lambda` once), each fed "
        f"batches of up to 10 by `ReceiveMessage`; the messages not listed in `batchItemFailures` are "
        f"deleted, the others come back when their visibility ends: after the queue's timeout, or after the "
        f"delay the service set with `ChangeMessageVisibility` for a document held back by pacing. The "
        f"emulator limits the model to the same pages per minute over a sliding (scaled) minute and answers "
        f"429 with no Retry-After above it, as live Nanonets; the service has the budget, the window and a "
        f"429 pause of 30 scaled seconds (`NANONETS_PAGES_PER_MINUTE`, `NANONETS_PACING_WINDOW_SECONDS`, "
        f"`NANONETS_429_PAUSE_SECONDS`); the handler's own work is not scaled (see Notes). S3 is "
        f"`bench/s3stub.py`; the service's SQS calls reach moto through `AWS_ENDPOINT_URL_SQS`. "
        f"Webhooks are off: a document is done when its "
        f"message is deleted, and the completion time runs from the first message sent to the last one "
        f"deleted. Exactly-once is checked afterwards: one emulator file and one ledger record "
        f"(`_state/files/<id>.json`, naming the key) per document.",
        "",
        "| run | documents | pages/min | pages / limit s | completion s | completion / (pages / limit) "
        "| LabelUrls answers | batches | redeliveries | delayed by the service | max receive count | DLQ "
        "| lost | duplicates | records missing |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
        _burst_row("capacity (no limit)", report.capacity),
        _burst_row("paced burst", paced),
        "",
        f"*Redeliveries* are receives with ApproximateReceiveCount > 1; *delayed by the service* are those "
        f"that followed a ChangeMessageVisibility the service made (counted on botocore's hooks in each "
        f"container: {poll.visibility_changes} accepted), the rest waited out the queue's own timeout "
        f"({poll.undelayed_failures} failures left to it). Messages back before the delay they were given: "
        f"{poll.early_returns}. The capacity run has no limit anywhere, so the limit can be seen to sit "
        f"below what the path does by itself: {paced.limit_rate:.1f} documents/s against "
        f"{report.capacity.rate:.1f}. This table replaces the earlier burst against the emulator's "
        f"`rate_limit_rps` (a requests-per-second token bucket with Retry-After, redelivering at once): "
        f"live Nanonets limits pages per minute and sends no Retry-After.",
        "",
    ]


def section_cold(report: ColdReport) -> list[str]:
    reference = median(report.reference)
    reference_cpu = median(report.reference_cpu)
    out = [
        "## 4. Cold start",
        "",
        f"Fresh `python -c` processes, timed from their first line (interpreter start-up, "
        f"{median(report.python_startup) * 1000:.0f} ms for `python -c pass`, is outside both sides); "
        f"{report.rounds} interleaved rounds; ratios are medians of each round's subject / reference. "
        "Reference, the floor of any handler that talks to S3: `import flask, boto3, pydantic, requests` "
        'and one `boto3.client("s3")` configured as the service\'s (region, endpoint, SigV4, retries). '
        "Subjects: `from service import aws_lambda`, then one event; then a second event in the same "
        "process (warm), which is the event's own cost (S3 on `bench/s3stub.py`, Nanonets the emulator). "
        "`service/` is byte-compiled first, as pip compiled both sides' dependencies. "
        "The goal is judged on CPU time (import + first event), paired round by round; wall-clock time "
        "is given too.",
        "",
        "| process | import ms | first event ms | import + first event ms | ratio to reference "
        "| CPU ms | CPU ratio | warm event ms | process wall ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| reference: flask, boto3, pydantic, requests + one S3 client "
        f"| {median(report.reference_import) * 1000:.0f} "
        f"| {median(report.reference_client) * 1000:.0f} (the client) "
        f"| {reference * 1000:.0f} | 1.00 | {reference_cpu * 1000:.0f} | 1.00 "
        f"| | {median(report.reference_wall) * 1000:.0f} |",
    ]
    for name, subject, series, wall in (
        ("`events_handler`, SQS batch of 1 S3 event", "events", report.events, report.events_wall),
        ("`http_handler`, HTTP API v2 `GET /healthz`", "http", report.http, report.http_wall),
    ):
        total = report.total(series)
        out.append(
            f"| {name} | {report.med(series, 'import') * 1000:.0f} "
            f"| {report.med(series, 'first') * 1000:.0f} "
            f"| {total * 1000:.0f} | {report.paired_ratio(subject, 'wall'):.2f} "
            f"| {report.med(series, 'cpu') * 1000:.0f} "
            f"| **{report.paired_ratio(subject):.2f}** | {report.med(series, 'warm') * 1000:.1f} "
            f"| {median(wall) * 1000:.0f} |"
        )
    if report.breakdown:
        out += [
            "",
            "Where the events handler's cold start goes (one process importing step by step, medians):",
            "",
            "| step | ms |",
            "| --- | ---: |",
        ]
        for step, seconds in report.breakdown_medians():
            out.append(f"| {step} | {seconds * 1000:.0f} |")
    out += [
        "",
        "Imported on the events path beyond the reference, by top-level package (`-X importtime`, self "
        "times summed, ms): "
        + ", ".join(f"{name} {ms:.0f}" for name, ms in report.beyond_reference[:10] if ms >= 1)
        + ".",
    ]
    lazy = [name for name in OPTIONAL if name not in report.optional_loaded]
    out += [
        "",
        "Lazy imports: after answering an event, the events path has not imported "
        + ", ".join(f"`{name}`" for name in lazy)
        + (
            "; it has imported " + ", ".join(f"`{name}`" for name in report.optional_loaded) + "."
            if report.optional_loaded
            else "."
        ),
    ]
    if report.failures:
        out += ["", "Failures: " + "; ".join(sorted(set(report.failures)))]
    return [*out, ""]


def section_memory(report: MemoryReport) -> list[str]:
    warm = warm_point(report)
    out = [
        "## 5. Worker memory",
        "",
        f"A fresh gunicorn service (2 workers, same config), idle, then webhooks from wrk until "
        f"{report.target:,} requests: the first {report.first_deliveries:,} are first deliveries of "
        "one-page files submitted through the service just before, the rest repeats. RSS (and USS: pages "
        "only that worker holds) of each worker from /proc after each chunk. S3 on `bench/s3stub.py`.",
        "",
        "| requests | worker RSS MiB | worker USS MiB | req/s in chunk |",
        "| ---: | --- | --- | ---: |",
    ]
    for i, point in enumerate(report.points):
        label = f"{point.requests:,}" + (" (idle)" if i == 0 else " (warm)" if i == warm else "")
        out.append(
            f"| {label} | {' / '.join(f'{k / 1024:.1f}' for k in point.rss_kib)} "
            f"| {' / '.join(f'{k / 1024:.1f}' for k in point.uss_kib)} | {point.rps:.0f} |"
        )
    growth = memory_growth(report)
    first, last = report.points[0], report.points[-1]
    idle_growth = max(b - a for a, b in zip(first.rss_kib, last.rss_kib, strict=True))
    out += ["", f"From idle to the end: {idle_growth / 1024:+.2f} MiB (largest worker)."]
    if growth is not None:
        span = last.requests - report.points[warm].requests
        out[-1] += (
            f" After warm-up ({report.points[warm].requests:,} requests) to the end: "
            f"{growth / 1024:+.2f} MiB over {span:,} requests = {growth * 1024 / span:.0f} bytes per request."
        )
    if report.non2xx:
        out += ["", f"{report.non2xx} answers were not 2xx."]
    return [*out, ""]


def _package_line(profile: Profile) -> list[str]:
    total = sum(seconds for _, seconds in profile.by_package)
    if not total:
        return []
    shares = [
        f"{name} {seconds / total:.0%}" for name, seconds in profile.by_package if seconds / total >= 0.01
    ]
    return ["Own time by package: " + ", ".join(shares) + ".", ""]


def section_profiles(profiles: list[Profile]) -> list[str]:
    out = [
        "## Profiles (pyinstrument)",
        "",
        "Top lines of each profile: the heaviest functions by their own time (`flat`), then the call tree's "
        "top (time including callees). Times in seconds.",
        "",
    ]
    for profile in profiles:
        out += [
            f"### {profile.name}",
            "",
            profile.what,
            "",
            *_package_line(profile),
            "```text",
            *profile.flat,
            "```",
            "",
            "```text",
            *profile.tree,
            "```",
            "",
        ]
    return out


def render(
    *,
    command: str,
    started: str,
    seconds: float,
    machine: Machine,
    quick: bool,
    webhook: WebhookBench | None,
    s3_calls: S3CallCounts | None,
    rows: list[Row] | None,
    burst: BurstReport | None,
    cold: ColdReport | None,
    memory: MemoryReport | None,
    profiles: list[Profile],
    section_seconds: dict[str, float],
    load_after: str = "n/a",
) -> str:
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (bench/run.py): edit bench/NOTES.md or bench/report.py, "
        "not this file. -->",
        "",
        "Every figure is a ratio to a reference measured in the same run on the same machine, with the "
        "absolute numbers beside it for context: timings on these machines are noisy.",
        "",
        f"- command: `{command}`"
        + (" (**quick mode**: shortened runs, not for comparison)" if quick else ""),
        f"- run: {started}, {seconds / 60:.1f} min ("
        + ", ".join(f"{name} {s:.0f} s" for name, s in section_seconds.items())
        + ")",
        f"- machine: {machine.cores} cores ({machine.cpu}), Python {machine.python}, {machine.platform}, "
        f"load average before the run {machine.load_before}, after it {load_after}",
        "- packages: " + ", ".join(f"{name} {version}" for name, version in machine.packages.items()),
        "",
        "## Goals",
        "",
        "| table | goal | measured | status | margin |",
        "| --- | --- | --- | --- | --- |",
        *(goal.row() for goal in goals(webhook, rows, burst, cold, memory)),
        "",
    ]
    if webhook:
        out += section_webhook(webhook, s3_calls)
    if rows:
        out += section_normalize(rows)
    if burst:
        out += section_burst(burst)
    if cold:
        out += section_cold(cold)
    if memory:
        out += section_memory(memory)
    if profiles:
        out += section_profiles(profiles)
    if NOTES.exists():
        out += [NOTES.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(out)


def summary_lines(text: str) -> list[str]:
    """The goals table, for the console at the end of a run."""
    lines = text.splitlines()
    start = lines.index("## Goals")
    end = next(i for i in range(start + 2, len(lines)) if lines[i].startswith("## "))
    return [line for line in lines[start:end] if line.strip()]


def as_dict(value: Any) -> Any:
    return value.as_dict() if hasattr(value, "as_dict") else value
