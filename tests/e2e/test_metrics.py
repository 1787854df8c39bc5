"""GET /metrics on a 2-worker gunicorn with the deployed config: the counts match what was sent, whichever
worker served each request and each scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devtools.documents import document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_event
from devtools.stack import TEST_SECRET, Process, ServiceEnv, start_gunicorn
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.e2e.conftest import RULES
from tests.support import MetricsView, list_keys, wait_for

pytestmark = pytest.mark.e2e
AUTH = {"X-Webhook-Token": TEST_SECRET}
METRICS_TOKEN = "metrics-token-0123456789"
DOCUMENTS = 6


@pytest.fixture(scope="module")
def service(
    moto_server: Process, emulator_server: Process, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    extra = {"VALIDATION_RULES": RULES, "METRICS_TOKEN": METRICS_TOKEN}
    env = ServiceEnv(s3_url=moto_server.url, emulator_url=emulator_server.url, extra=extra).as_env()
    log_dir = tmp_path_factory.mktemp("gunicorn-metrics")
    process = start_gunicorn(env, workers=2, log_dir=log_dir, config="python:service.gunicorn_conf")
    yield process
    process.stop()


def scrape(service: Process, token: str | None = METRICS_TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{service.url}/metrics", headers=headers, timeout=10)


def figures(service: Process) -> MetricsView:
    answer = scrape(service)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return MetricsView.parse(answer.text)


def drop(service: Process, s3: Any, key: str) -> str:
    body = document_bytes(filler=key.encode())
    etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
    event = s3_event(INPUT_BUCKET, key, size=len(body), etag=etag)
    answer = requests.post(f"{service.url}/events/s3", json=event, headers=AUTH, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["submitted"][0]["request_file_id"])


def test_scrape_needs_the_bearer_token(service: Process) -> None:
    for token in (None, "wrong-token-0123456789"):
        refused = scrape(service, token)
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthorized"
        assert METRICS_TOKEN not in refused.text
    assert scrape(service).status_code == 200


def test_counts_match_the_documents_sent_across_both_workers(
    service: Process, s3: Any, emulator_url: str
) -> None:
    emulator = EmulatorControl(emulator_url)
    emulator.config(
        webhook_url=f"{service.url}/webhooks/nanonets?token={TEST_SECRET}",
        webhooks_enabled=False,
        processing_delay=0.05,
    )
    file_ids = [drop(service, s3, f"incoming/metrics/doc-{n}.pdf") for n in range(DOCUMENTS)]

    waiting = figures(service)
    assert waiting.total("documents_submitted_total") == DOCUMENTS
    assert waiting.total("nanonets_calls_total", endpoint="predict", status="2xx") == DOCUMENTS
    assert waiting.total("documents_completed_total") == 0
    assert waiting.total("documents_pending") == DOCUMENTS
    assert waiting.total("oldest_pending_age_seconds") >= 0

    emulator.config(webhooks_enabled=True)
    for file_id in file_ids:
        emulator.resend_webhook(file_id)
    assert emulator.flush()
    wait_for(lambda: len(list_keys(s3, OUTPUT_BUCKET, "normalized/metrics/")) == DOCUMENTS)
    requests.post(f"{service.url}/webhooks/nanonets", json={"result": []}, timeout=10)  # no token: 401

    # Every scrape, whichever worker answers it, adds up the samples of both workers.
    scrapes = [figures(service) for _ in range(4)]
    for done in scrapes:
        assert done.total("documents_submitted_total") == DOCUMENTS
        assert done.total("documents_completed_total") == DOCUMENTS
        assert done.by_label("documents_completed_total", "validation") == {"passed": DOCUMENTS}
        assert done.total("webhooks_received_total", outcome="processed") == DOCUMENTS
        assert done.total("webhooks_received_total", outcome="unauthorized") == 1
        assert done.total("submission_to_output_seconds_count") == DOCUMENTS
        assert done.total("documents_quarantined_total") == 0
        assert done.total("documents_pending") == 0
