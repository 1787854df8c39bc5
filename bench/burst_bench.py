"""Table 3: a burst of S3 events through the Lambda events handler against a rate-limited Nanonets.

1,000 documents are put in S3 and their ObjectCreated events queued as SQS messages. `CONCURRENCY` worker
processes play Lambda containers: each imports `service.aws_lambda` once and calls `events_handler` with
SQS batches of 10 (the default batch size), as Lambda's SQS poller does; the messages a handler lists in
`batchItemFailures` go back to the queue, as SQS redelivers them (here at once rather than after the
visibility timeout, which only makes the run shorter). The emulator answers 429 with Retry-After past
`rate_limit_rps` = R (a token bucket, docs/EMULATOR.md).

Reported: accepted submissions / elapsed seconds / R, the 429s, the redeliveries, and the check that each
document was submitted exactly once (one emulator file and one ledger record per key: zero lost, zero
duplicates). The same run first measures the pipeline's capacity with no limit, so R can be shown to be
below it (otherwise the ratio would measure capacity, not behaviour under a limit).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import sys
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import log
from bench.payloads import document_bytes, pages
from bench.stack import INPUT_BUCKET, OUTPUT_BUCKET, put_documents
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_event, sqs_batch

BATCH = 10
CONCURRENCY = 5  # Lambda's SQS poller starts with five concurrent batches


def _lambda_container(env: dict[str, str], log_path: str, inbox: Any, outbox: Any) -> None:
    """One Lambda container: import the handler once, then answer batches until told to stop."""
    with open(log_path, "ab", buffering=0) as sink:
        os.dup2(sink.fileno(), 2)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - the process's stderr for its lifetime
    os.environ.update(env)
    from service import aws_lambda

    while True:
        item = inbox.get()
        if item is None:
            return
        worker, event = item
        started = time.perf_counter()
        try:
            result = aws_lambda.events_handler(event, None)
        except Exception as error:  # a crash fails the whole batch, as on Lambda
            result = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
            result["crash"] = repr(error)
        outbox.put((worker, result, time.perf_counter() - started))


@dataclass
class BurstRun:
    events: int
    rate_limit: float | None
    seconds: float = 0.0
    batches: int = 0
    redelivered: int = 0
    crashes: int = 0
    accepted: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    duplicates: int = 0
    records_missing: int = 0

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


class Containers:
    def __init__(self, env: dict[str, str], count: int, log_dir: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.outbox = context.Queue()
        self.inboxes = [context.Queue() for _ in range(count)]
        self.processes = [
            context.Process(
                target=_lambda_container,
                args=(env, str(log_dir / f"lambda-{i}.log"), self.inboxes[i], self.outbox),
                daemon=True,
            )
            for i in range(count)
        ]
        for process in self.processes:
            process.start()

    def warm(self) -> None:
        """Each container answers one event first (a skipped key: no S3 or Nanonets call), so the runs
        measure warm containers; cold start is table 4."""
        for i, inbox in enumerate(self.inboxes):
            inbox.put((i, sqs_batch([(f"warm-{i}", json.dumps(s3_event(INPUT_BUCKET, f"warmup/{i}.txt")))])))
        for _ in self.inboxes:
            self.outbox.get(timeout=120)

    def run(self, messages: list[tuple[str, str]]) -> tuple[float, int, int, int]:
        """Deliver every message until none is left to retry: (seconds, batches, redelivered, crashes)."""
        pending = deque(messages)
        idle = list(range(len(self.inboxes)))
        in_flight: dict[int, list[tuple[str, str]]] = {}
        batches = redelivered = crashes = 0
        started = time.perf_counter()
        while pending or in_flight:
            while idle and pending:
                worker = idle.pop()
                batch = [pending.popleft() for _ in range(min(BATCH, len(pending)))]
                in_flight[worker] = batch
                self.inboxes[worker].put((worker, sqs_batch(batch)))
                batches += 1
            try:
                worker, result, _ = self.outbox.get(timeout=300)
            except queue.Empty:
                raise RuntimeError("a Lambda container stopped answering") from None
            batch = in_flight.pop(worker)
            idle.append(worker)
            crashes += "crash" in result
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
            for message in batch:
                if message[0] in failed:
                    pending.append(message)
                    redelivered += 1
        return time.perf_counter() - started, batches, redelivered, crashes

    def stop(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def make_documents(s3: Any, tag: str, count: int) -> tuple[list[str], dict[str, list[Any]]]:
    keys = [f"incoming/burst/{tag}-{i:05d}.pdf" for i in range(count)]
    file_pages = {key: pages(1, seed=i) for i, key in enumerate(keys)}
    put_documents(s3, {key: document_bytes(file_pages[key], key) for key in keys})
    return keys, file_pages


def messages_for(keys: list[str], tag: str) -> list[tuple[str, str]]:
    return [(f"{tag}-{i}", json.dumps(s3_event(INPUT_BUCKET, key, size=600))) for i, key in enumerate(keys)]


def check(s3: Any, control: EmulatorControl, keys: list[str], run: BurstRun) -> dict[str, str]:
    """Exactly once: one accepted emulator file and one ledger record per key. Returns key → file id."""
    wanted = set(keys)
    by_key: dict[str, list[str]] = {}
    for item in control.files():
        metadata = json.loads(item["request_metadata"] or "{}")
        if metadata.get("key") in wanted:
            by_key.setdefault(metadata["key"], []).append(item["request_file_id"])
    run.accepted = sum(len(ids) for ids in by_key.values())
    run.lost = sum(1 for key in keys if key not in by_key)
    run.duplicates = sum(len(ids) - 1 for ids in by_key.values() if len(ids) > 1)
    missing = 0
    for key, ids in by_key.items():
        for file_id in ids:
            try:
                record = json.loads(
                    s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"_state/files/{file_id}.json")["Body"].read()
                )
            except s3.exceptions.NoSuchKey:
                missing += 1
                continue
            if record["source"]["key"] != key:
                missing += 1
    run.records_missing = missing
    statuses = Counter(str(call["status"]) for call in control.calls() if "LabelUrls" in call["path"])
    run.status_counts = dict(sorted(statuses.items()))
    return {key: ids[0] for key, ids in by_key.items()}


@dataclass
class BurstReport:
    capacity: BurstRun
    limited: BurstRun
    concurrency: int
    file_ids: dict[str, str]
    file_pages: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "capacity": {**asdict(self.capacity), "rate": self.capacity.rate},
            "limited": {**asdict(self.limited), "rate": self.limited.rate},
        }


def burst(
    *,
    env: dict[str, str],
    s3: Any,
    emulator_url: str,
    log_dir: Path,
    events: int = 1000,
    calibration_events: int = 200,
    rate: float | None = None,
    concurrency: int = CONCURRENCY,
) -> BurstReport:
    control = EmulatorControl(emulator_url)
    containers = Containers(env, concurrency, log_dir)
    try:
        containers.warm()
        # 1. capacity: no limit
        control.reset()
        calib_keys, _ = make_documents(s3, "calibration", calibration_events)
        capacity = BurstRun(events=calibration_events, rate_limit=None)
        capacity.seconds, capacity.batches, capacity.redelivered, capacity.crashes = containers.run(
            messages_for(calib_keys, "calibration")
        )
        check(s3, control, calib_keys, capacity)
        log(f"burst: capacity without a limit {capacity.rate:.1f} submissions/s")
        # 2. the burst against the limit
        if rate is None:
            rate = float(max(2, min(25, int(capacity.rate * 0.5))))
        keys, file_pages = make_documents(s3, "burst", events)
        control.reset()
        control.faults(rate_limit_rps=rate)
        limited = BurstRun(events=events, rate_limit=rate)
        limited.seconds, limited.batches, limited.redelivered, limited.crashes = containers.run(
            messages_for(keys, "burst")
        )
        control.faults(rate_limit_rps=None)
        file_ids = check(s3, control, keys, limited)
        log(
            f"burst: {limited.accepted} accepted in {limited.seconds:.1f}s = {limited.rate:.1f}/s "
            f"against R={rate:g} (lost {limited.lost}, duplicates {limited.duplicates})"
        )
    finally:
        containers.stop()
    return BurstReport(capacity, limited, concurrency, file_ids, {k: file_pages[k] for k in file_ids})
