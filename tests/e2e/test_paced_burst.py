"""The paced burst of `make bench` (table 3), small: a burst of one-page documents through the Lambda events
path with real SQS semantics (moto server), against a pages-per-minute limit on a 2 s "minute"."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_event
from devtools.lambda_sqs import Containers, QueueSettings, SqsPoller, create_queues, send_all, sqs_client
from devtools.stack import ServiceEnv
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET

pytestmark = pytest.mark.e2e

TIME_SCALE = 1 / 30  # a 2 s minute, a 1 s pause after a 429
BUDGET = 2  # pages per (scaled) minute, for the emulator and the service alike
DOCUMENTS = 6


def test_a_paced_burst_waits_in_sqs_and_submits_each_document_once(
    s3_url: str, s3: Any, emulator_url: str, tmp_path: Path
) -> None:
    control = EmulatorControl(emulator_url)
    control.config(webhooks_enabled=False, pages_per_minute=BUDGET, time_scale=TIME_SCALE)
    settings = QueueSettings.from_serverless(TIME_SCALE)
    sqs = sqs_client(s3_url)
    queues = create_queues(sqs, "uploads", settings)
    body = document_bytes(RECEIPT_PAGES)
    keys = [f"incoming/paced/{i:02d}.pdf" for i in range(DOCUMENTS)]
    for key in keys:
        s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
    env = ServiceEnv(
        s3_url=s3_url,
        emulator_url=emulator_url,
        output_bucket=OUTPUT_BUCKET,
        extra={
            "NANONETS_PAGES_PER_MINUTE": str(BUDGET),
            "NANONETS_PACING_WINDOW_SECONDS": f"{60 * TIME_SCALE:g}",
            "NANONETS_429_PAUSE_SECONDS": f"{30 * TIME_SCALE:g}",
        },
    ).as_env()
    notices = [json.dumps(s3_event(INPUT_BUCKET, key, size=len(body))) for key in keys]

    containers = Containers(env, 2, tmp_path)
    try:
        containers.warm(lambda i: {"Records": []})
        poller = SqsPoller(s3_url, queues, containers, settings)
        stats = poller.run(DOCUMENTS, lambda: send_all(sqs, queues.url, notices), timeout=120)
    finally:
        containers.stop()

    assert not stats.timed_out and stats.crashes == 0
    assert stats.in_dlq == 0 and stats.deleted == DOCUMENTS
    submitted = Counter(json.loads(f["request_metadata"])["key"] for f in control.files())
    assert submitted == dict.fromkeys(keys, 1)
    # Held back: the service set each one's visibility to its wait, and it came back then, not earlier.
    assert stats.visibility_changes > 0
    assert stats.undelayed_failures == 0
    assert stats.delayed_redeliveries == stats.redeliveries
    assert stats.early_returns == 0
