"""Table 3: a paced burst. N one-page documents at once through the Lambda events path, against a
pages-per-minute limit, with real SQS semantics, time scaled down.

The documents are put in S3 (`bench/s3stub.py`, see bench/NOTES.md) and their ObjectCreated notifications
sent at once to an SQS queue (moto server; the service reaches it through AWS_ENDPOINT_URL_SQS) made as
serverless.yml makes it: its VisibilityTimeout and RedrivePolicy (maxReceiveCount, a DLQ), the
timeout scaled by `time_scale`. `devtools.lambda_sqs.SqsPoller` plays Lambda's SQS poller for CONCURRENCY
warm containers (processes that import `service.aws_lambda` once): batches of up to 10, messages not listed
in `batchItemFailures` deleted, the others back after their visibility timeout, which the service sets
itself (ChangeMessageVisibility) for a document held back by pacing.

The emulator limits the model to `pages_per_minute` over a sliding minute of `60 * time_scale` seconds and
answers 429 with no Retry-After above it, as live Nanonets; the service is told the same budget and window
(NANONETS_PAGES_PER_MINUTE, NANONETS_PACING_WINDOW_SECONDS) and pauses 30 scaled seconds after a 429
(NANONETS_429_PAUSE_SECONDS). Webhooks are off: a document is done when its message is deleted.

Reported: completion time (the last message deleted) / (pages / limit), the DLQ, the lost and duplicated
submissions (one emulator file and one ledger record per key), the 429s the emulator answered, the highest
receive count and the redeliveries the service delayed. A first run without a limit measures the path's
own capacity, so the limit can be shown to be well below it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench.common import log
from bench.payloads import document_bytes, pages
from bench.stack import INPUT_BUCKET, OUTPUT_BUCKET, create_buckets, put_documents, s3_client, service_env
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_event
from devtools.lambda_sqs import Containers, PollStats, QueueSettings, SqsPoller, create_queues, send_all
from devtools.lambda_sqs import sqs_client as make_sqs_client

CONCURRENCY = 5  # serverless.yml's reservedConcurrency for the events function (Lambda's SQS poller: 5 too)
MINUTE = 60.0
UNLIMITED = 1_000_000  # the service's budget for the capacity run


@dataclass
class PacedRun:
    documents: int
    pages_per_minute: int | None  # None: the capacity run, no limit anywhere
    time_scale: float
    visibility_timeout: int
    max_receive_count: int
    seconds: float = 0.0  # to the last message deleted (or the timeout)
    accepted: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    duplicates: int = 0
    records_missing: int = 0
    poll: PollStats | None = None

    @property
    def window_seconds(self) -> float:
        return MINUTE * self.time_scale

    @property
    def ideal_seconds(self) -> float:
        """pages / limit, in scaled minutes: the time the limit itself asks for."""
        if not self.pages_per_minute:
            return 0.0
        return self.documents / self.pages_per_minute * self.window_seconds

    @property
    def ratio(self) -> float:
        return self.seconds / self.ideal_seconds if self.ideal_seconds else 0.0

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def limit_rate(self) -> float:
        """The limit in documents (one page each) per second of this run's time."""
        return (self.pages_per_minute or 0) / self.window_seconds

    @property
    def too_many(self) -> int:
        return self.status_counts.get("429", 0)

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        if found["poll"]:
            found["poll"].pop("receive_counts")
        return {
            **found,
            "window_seconds": self.window_seconds,
            "ideal_seconds": self.ideal_seconds,
            "ratio": self.ratio,
            "rate": self.rate,
        }


@dataclass
class BurstReport:
    capacity: PacedRun
    paced: PacedRun
    concurrency: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "capacity": self.capacity.as_dict(),
            "paced": self.paced.as_dict(),
        }


def make_documents(s3: Any, tag: str, count: int) -> list[str]:
    keys = [f"incoming/burst/{tag}-{i:05d}.pdf" for i in range(count)]
    put_documents(s3, {key: document_bytes(pages(1, seed=i), key) for i, key in enumerate(keys)})
    return keys


def notifications(keys: list[str]) -> list[str]:
    return [json.dumps(s3_event(INPUT_BUCKET, key, size=600)) for key in keys]


def check(s3: Any, control: EmulatorControl, keys: list[str], run: PacedRun, state_bucket: str) -> None:
    """Exactly once: one accepted emulator file and one ledger record per key."""
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
                    s3.get_object(Bucket=state_bucket, Key=f"_state/files/{file_id}.json")["Body"].read()
                )
            except s3.exceptions.NoSuchKey:
                missing += 1
                continue
            if record["source"]["key"] != key:
                missing += 1
    run.records_missing = missing
    statuses = Counter(str(call["status"]) for call in control.calls() if "LabelUrls" in call["path"])
    run.status_counts = dict(sorted(statuses.items()))


def pacing_env(pages_per_minute: int, time_scale: float) -> dict[str, str]:
    """The service's budget, window and 429 pause, with time scaled like the emulator's."""
    return {
        "NANONETS_PAGES_PER_MINUTE": str(pages_per_minute),
        "NANONETS_PACING_WINDOW_SECONDS": f"{MINUTE * time_scale:g}",
        "NANONETS_429_PAUSE_SECONDS": f"{30 * time_scale:g}",
    }


def paced_run(
    *,
    s3_url: str,
    sqs_url: str,
    emulator_url: str,
    s3: Any,
    log_dir: Path,
    tag: str,
    documents: int,
    pages_per_minute: int | None,
    time_scale: float,
    concurrency: int = CONCURRENCY,
) -> PacedRun:
    """One burst on a fresh queue, a fresh output bucket (so a fresh pacing state) and a fresh emulator."""
    requests.post(sqs_url + "/moto-api/reset", timeout=10).raise_for_status()
    output_bucket = f"{OUTPUT_BUCKET}-{tag}"
    create_buckets(s3, (INPUT_BUCKET, output_bucket))
    control = EmulatorControl(emulator_url)
    control.reset()
    control.config(webhooks_enabled=False, pages_per_minute=pages_per_minute, time_scale=time_scale)
    settings = QueueSettings.from_serverless(time_scale)
    sqs = make_sqs_client(sqs_url)
    queues = create_queues(sqs, f"uploads-{tag}", settings)
    keys = make_documents(s3, tag, documents)
    env = service_env(
        s3_url,
        emulator_url,
        OUTPUT_BUCKET=output_bucket,
        AWS_ENDPOINT_URL_SQS=sqs_url,
        **pacing_env(pages_per_minute or UNLIMITED, time_scale),
    )
    run = PacedRun(
        documents=documents,
        pages_per_minute=pages_per_minute,
        time_scale=time_scale,
        visibility_timeout=settings.visibility_timeout,
        max_receive_count=settings.max_receive_count,
    )
    containers = Containers(env, concurrency, log_dir)
    try:
        containers.warm(lambda i: _skipped_key_event(i, queues.arn))
        poller = SqsPoller(sqs_url, queues, containers, settings)
        ideal = run.ideal_seconds or documents / 2
        bodies = notifications(keys)
        stats = poller.run(documents, lambda: send_all(sqs, queues.url, bodies), timeout=max(60, 5 * ideal))
    finally:
        containers.stop()
    run.poll = stats
    run.seconds = stats.completed_at or 0.0
    check(s3, control, keys, run, output_bucket)
    return run


def _skipped_key_event(index: int, queue_arn: str) -> dict[str, Any]:
    """A Lambda SQS event for a key the service skips (no S3 or Nanonets call): warms a container."""
    body = json.dumps(s3_event(INPUT_BUCKET, f"warmup/{index}.txt"))
    return {
        "Records": [
            {
                "messageId": f"warm-{index}",
                "receiptHandle": f"warm-{index}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
            }
        ]
    }


def burst(
    *,
    s3_url: str,
    sqs_url: str,
    emulator_url: str,
    log_dir: Path,
    documents: int = 150,
    pages_per_minute: int = 30,
    time_scale: float = 0.2,
    calibration_documents: int = 60,
    concurrency: int = CONCURRENCY,
) -> BurstReport:
    run = partial(
        paced_run,
        s3_url=s3_url,
        sqs_url=sqs_url,
        emulator_url=emulator_url,
        s3=s3_client(s3_url),
        log_dir=log_dir,
        time_scale=time_scale,
        concurrency=concurrency,
    )
    capacity = run(tag="capacity", documents=calibration_documents, pages_per_minute=None)
    log(f"burst: capacity without a limit {capacity.rate:.1f} documents/s")
    paced = run(tag="paced", documents=documents, pages_per_minute=pages_per_minute)
    poll = paced.poll
    assert poll is not None
    log(
        f"burst: {documents} documents at {pages_per_minute} pages per {paced.window_seconds:g} s "
        f"in {paced.seconds:.1f} s = {paced.ratio:.2f} x pages/limit; 429s {paced.too_many}, "
        f"DLQ {poll.in_dlq}, lost {paced.lost}, duplicates {paced.duplicates}, "
        f"max receive count {poll.max_receive_count}, delayed redeliveries {poll.delayed_redeliveries}"
    )
    return BurstReport(capacity, paced, concurrency)
