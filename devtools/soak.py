"""`make soak`: N documents through the whole service while things go wrong, then count what came out.

Loopback only, bounded, stops by itself. The service runs under gunicorn (2 workers x 4 threads) against
moto S3 (behind a TCP relay that can be cut: "S3 is down" without losing moto's state) and the emulator
injecting 20 % 429s, 5 % 5xx, slow answers, 10 % dropped webhooks, 10 % webhooks sent three times and pages
out of order. Events are posted in batches of 10 and re-sent when the answer says so (503, or a failed item
marked retryable), as SQS would redeliver. Midway S3 is cut for 10 s and one gunicorn worker is SIGKILLed.
Then reconcile runs (and `quarantine retry` for submissions Nanonets refused while S3 was down) until
nothing is pending.

    python -m devtools.soak --documents 500

Prints `documents=… outputs=… missing=… duplicates=…` and exits non-zero unless missing=0 duplicates=0.
`missing` counts documents with neither an output nor a quarantine record; `duplicates` counts extra
Nanonets submissions of one source version and outputs written for anything but a dropped document.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_record
from devtools.proxy import TcpProxy
from devtools.stack import (
    AWS_TEST_ENV,
    TEST_SECRET,
    Process,
    ServiceEnv,
    start_emulator,
    start_gunicorn,
    start_moto,
)
from service.adapters.sns import confirm_subscription
from service.bootstrap import Service, build
from service.errors import StorageUnavailable
from service.settings import load_settings

INPUT_BUCKET, OUTPUT_BUCKET = "soak-in", "soak-out"
FAULTS = {
    "rate_429": 0.2,
    "retry_after": 1,
    "rate_5xx": 0.05,
    "rate_slow": 0.05,
    "slow_seconds": 2.0,
    "webhook_drop": 0.1,
    "webhook_repeat": 0.1,
    "repeat_count": 3,
    "shuffle_pages": True,
    "seed": 20261125,
}


@dataclass
class SoakReport:
    documents: int
    outputs: int = 0
    missing: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    retried_from_quarantine: int = 0
    event_posts: int = 0
    event_resends: int = 0
    event_errors: dict[str, int] = field(default_factory=dict)
    reconcile_runs: int = 0
    max_seconds_to_output: float = 0.0
    pending_left: int = 0
    oldest_pending_age_seconds: float | None = None
    seconds: float = 0.0
    chaos: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"documents={self.documents} outputs={self.outputs} missing={self.missing} "
            f"duplicates={self.duplicates} quarantined={sum(self.quarantined.values())}"
        )

    def text(self) -> str:
        reasons = ", ".join(f"{code}={n}" for code, n in sorted(self.quarantined.items())) or "none"
        errors = ", ".join(f"{k}={v}" for k, v in sorted(self.event_errors.items())) or "none"
        return "\n".join(
            [
                self.line(),
                f"quarantined (left, by code): {reasons}; retried from quarantine: "
                f"{self.retried_from_quarantine}",
                f"event posts={self.event_posts} resends={self.event_resends} errors: {errors}",
                f"reconcile runs={self.reconcile_runs} pending left={self.pending_left} "
                f"oldest pending age={self.oldest_pending_age_seconds}",
                f"max seconds from submission to output={self.max_seconds_to_output:.1f}",
                f"chaos: {'; '.join(self.chaos) or 'none'}",
                f"wall time={self.seconds:.0f}s",
            ]
        )

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.duplicates == 0 and self.outputs == self.documents


@contextmanager
def soak_stack(workdir: Path, *, claim_stale_seconds: int) -> Iterator[dict[str, Any]]:
    os.environ.update(AWS_TEST_ENV)
    moto = start_moto()
    processes: list[Process] = [moto]
    proxy = TcpProxy(int(moto.url.rsplit(":", 1)[1]))
    try:
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
        s3.create_bucket(Bucket=INPUT_BUCKET)
        s3.create_bucket(Bucket=OUTPUT_BUCKET)
        emulator = start_emulator(log_dir=workdir)
        processes.append(emulator)
        env = ServiceEnv(
            s3_url=proxy.url,
            emulator_url=emulator.url,
            output_bucket=OUTPUT_BUCKET,
            extra={
                "CLAIM_STALE_SECONDS": str(claim_stale_seconds),
                "NANONETS_MAX_RETRIES": "8",
                "NANONETS_BACKOFF_MAX_SECONDS": "4",
                # The injected 429s test recovery, not the pace (make bench has the paced burst): a short
                # pause after each, and a page budget the run never reaches.
                "NANONETS_429_PAUSE_SECONDS": "0.2",
                "NANONETS_PAGES_PER_MINUTE": "100000",
                "GUNICORN_CMD_ARGS": "--threads 4",
                "LOG_LEVEL": "WARNING",
            },
        ).as_env()
        service = start_gunicorn(env, workers=2, log_dir=workdir)
        processes.append(service)
        control = EmulatorControl(emulator.url)
        control.config(
            webhook_url=f"{service.url}/webhooks/nanonets?token={TEST_SECRET}",
            processing_delay=0.2,
            webhook_retries=3,
            webhook_retry_delay=1.0,
        )
        yield {"s3": s3, "proxy": proxy, "service": service, "control": control, "env": env}
    finally:
        for process in reversed(processes):
            process.stop()
        proxy.down()


def run_soak(documents: int, *, chaos: bool, workdir: Path, deadline_seconds: float = 420) -> SoakReport:
    stale = 20
    started = time.monotonic()
    report = SoakReport(documents=documents)
    with soak_stack(workdir, claim_stale_seconds=stale) as stack:
        s3, control = stack["s3"], stack["control"]
        keys = _drop_documents(s3, documents)
        control.faults(**FAULTS)
        _post_events(stack, keys, report, chaos=chaos, deadline=started + deadline_seconds * 0.6)
        control.flush(timeout=120)
        _settle(stack, report, stale_seconds=stale, deadline=started + deadline_seconds)
        _count(stack, keys, report)
    report.seconds = time.monotonic() - started
    return report


def _drop_documents(s3: Any, count: int) -> dict[str, dict[str, Any]]:
    """Every tenth document has three pages (so shuffled pages matter); all are distinct."""
    keys = {}
    for index in range(count):
        pages = RECEIPT_PAGES * 3 if index % 10 == 0 else RECEIPT_PAGES
        body = document_bytes(pages, filler=f"soak-{index}".encode())
        key = f"incoming/soak/{index:05d}.pdf"
        etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
        keys[key] = {"size": len(body), "etag": etag}
    return keys


def _post_events(
    stack: dict[str, Any],
    keys: dict[str, dict[str, Any]],
    report: SoakReport,
    *,
    chaos: bool,
    deadline: float,
) -> None:
    url = f"{stack['service'].url}/events/s3?token={TEST_SECRET}"
    batches = [list(keys)[i : i + 10] for i in range(0, len(keys), 10)]
    lock = threading.Lock()
    sent = [0]
    triggers = {len(batches) // 3: _cut_s3, (2 * len(batches)) // 3: _kill_worker} if chaos else {}

    def deliver(batch: list[str]) -> None:
        pending, attempt = batch, 0
        while pending and time.monotonic() < deadline:
            attempt += 1
            with lock:
                report.event_posts += 1
                report.event_resends += attempt > 1
            pending = _post_once(url, pending, keys, report, lock)
            if pending:
                time.sleep(min(0.5 * attempt, 5))
        with lock:
            sent[0] += 1
            action = triggers.pop(sent[0], None)
        if action is not None:
            threading.Thread(target=action, args=(stack, report), daemon=True).start()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(deliver, batches))


def _post_once(
    url: str, batch: list[str], keys: dict[str, dict[str, Any]], report: SoakReport, lock: threading.Lock
) -> list[str]:
    """The keys to send again (as SQS would redeliver them), after one POST."""
    try:
        answer = requests.post(
            url, json={"Records": [s3_record(INPUT_BUCKET, k, **keys[k]) for k in batch]}, timeout=120
        )
    except requests.RequestException as error:
        _count_error(report, lock, type(error).__name__)
        return batch
    if answer.status_code != 200:
        _count_error(report, lock, f"http_{answer.status_code}")
        return batch
    failed = [item for item in answer.json().get("failed", []) if item.get("retryable", True)]
    for _ in failed:
        _count_error(report, lock, "item_failed_retryable")
    return [item["key"] for item in failed]


def _count_error(report: SoakReport, lock: threading.Lock, kind: str) -> None:
    with lock:
        report.event_errors[kind] = report.event_errors.get(kind, 0) + 1


def _cut_s3(stack: dict[str, Any], report: SoakReport) -> None:
    report.chaos.append("S3 cut for 10 s")
    stack["proxy"].down()
    time.sleep(10)
    stack["proxy"].up()


def _kill_worker(stack: dict[str, Any], report: SoakReport) -> None:
    master = stack["service"].popen.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if not children:
        report.chaos.append("no gunicorn worker found to kill")
        return
    os.kill(int(children[0]), signal.SIGKILL)
    report.chaos.append(f"SIGKILL gunicorn worker {children[0]}")


def _service(stack: dict[str, Any]) -> Service:
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in stack["env"].items() if k != "GUNICORN_CMD_ARGS"})
    try:
        return build(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _settle(stack: dict[str, Any], report: SoakReport, *, stale_seconds: int, deadline: float) -> None:
    """What an operator's schedule does: reconcile, and retry what Nanonets refused while S3 was down."""
    service = _service(stack)
    quarantine = service.stores.quarantine
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        try:
            for record in [quarantine.get(quarantine_id) for quarantine_id in list(quarantine.ids())]:
                if record is not None and record.code == "submission_failed":
                    retried = service.recovery.retry_quarantined(record.id, confirm=confirm_subscription)
                    report.retried_from_quarantine += retried.resolved
            summary = service.recovery.reconcile(older_than_seconds=0, limit=10_000)
            markers = sum(1 for _ in service.stores.claims.unfinished())
        except StorageUnavailable as error:
            # A scheduled run that cannot reach S3 is simply run again by the schedule.
            print(f"reconcile run failed, running it again: {error}", file=sys.stderr)
            quiet_since = None
            time.sleep(2)
            continue
        report.reconcile_runs += 1
        if summary.still_pending == 0 and summary.resubmitted == 0 and markers == 0 and summary.errors == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 3:
                return
        else:
            quiet_since = None
        # Orphaned claims are only taken over once stale: no point polling faster than that.
        time.sleep(2 if markers == 0 else min(5, stale_seconds / 4))
        stack["control"].flush(timeout=30)


def _count(stack: dict[str, Any], keys: dict[str, dict[str, Any]], report: SoakReport) -> None:
    service = _service(stack)
    s3 = stack["s3"]
    outputs: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=OUTPUT_BUCKET, Prefix="normalized/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=item["Key"])["Body"].read()
            outputs[item["Key"]] = json.loads(body)
    expected = {"normalized/" + key.removeprefix("incoming/") + ".json": key for key in keys}
    report.outputs = sum(1 for key in outputs if key in expected)
    quarantined_sources = set()
    for quarantine_id in service.stores.quarantine.ids():
        record = service.stores.quarantine.get(quarantine_id)
        if record is None:
            continue
        report.quarantined[record.code] = report.quarantined.get(record.code, 0) + 1
        if record.source is not None:
            quarantined_sources.add(record.source.key)
    report.missing = sum(
        1 for out, key in expected.items() if out not in outputs and key not in quarantined_sources
    )
    # Extra Nanonets submissions per source (the emulator saw them) and outputs for no dropped document.
    per_source = collections.Counter(
        json.loads(f["request_metadata"])["key"] for f in stack["control"].files() if f["request_metadata"]
    )
    report.duplicates = sum(n - 1 for n in per_source.values() if n > 1)
    report.duplicates += sum(1 for key in outputs if key not in expected)
    for document in outputs.values():
        ledger_record = service.stores.ledger.get(document["nanonets"]["request_file_id"])
        if ledger_record is not None:
            took = (ledger_record.updated_at - ledger_record.submitted_at).total_seconds()
            report.max_seconds_to_output = max(report.max_seconds_to_output, took)
    final = service.status()
    report.pending_left = final.pending
    report.oldest_pending_age_seconds = final.oldest_pending_age_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fault-injection soak of the whole service (loopback)")
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--no-chaos", action="store_true", help="no S3 outage, no worker kill")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        report = run_soak(args.documents, chaos=not args.no_chaos, workdir=Path(workdir))
    print(report.text())
    if args.json:
        args.json.write_text(json.dumps(report.__dict__, indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
