"""Metrics of the in-process service over the real adapters (moto server, the emulator): GET /metrics, the
Nanonets answers counted by the client's response hook, and the webhook answers by outcome."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.stack import TEST_SECRET
from service.bootstrap import Service, build
from service.models.source import SourceRef
from service.observability.prometheus import PrometheusSink
from service.settings import Settings
from service.web import create_app, without_request_log
from tests.conftest import INPUT_BUCKET
from tests.support import MetricsView

AUTH = {"X-Webhook-Token": TEST_SECRET}


def prometheus_service(settings: Settings) -> Service:
    """Built as gunicorn builds it, with a registry of its own (no multiprocess directory in tests)."""
    return build(settings, metrics=PrometheusSink())


def view(service: Service) -> MetricsView:
    exposition = service.metrics.exposition()
    assert exposition is not None
    return MetricsView.parse(exposition.body.decode())


def put_document(s3: Any, key: str, content: bytes = b"") -> SourceRef:
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=document_bytes(filler=key.encode() + content))
    return SourceRef(bucket=INPUT_BUCKET, key=key)


def webhook_for(file_id: str) -> bytes:
    page = {"request_file_id": file_id, "page": 0, "prediction": RECEIPT_PAGES[0]}
    return json.dumps({"message": "Success", "result": [page]}).encode()


def scrape(client: FlaskClient, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def test_metrics_endpoint_is_open_without_a_token_and_shows_every_family(settings: Settings, s3: Any) -> None:
    answer = scrape(create_app(settings).test_client())
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")
    text = answer.get_data(as_text=True)
    assert "nanonets_ingest_documents_submitted_total" in text
    assert "nanonets_ingest_pacing_quota_stopped" in text


def test_with_a_token_a_scrape_needs_it_and_never_echoes_it(make_settings: Any, s3: Any) -> None:
    token = "metrics-token-0123456789"
    client = create_app(make_settings(metrics_token=token)).test_client()
    for wrong in (None, "wrong-token-0123456789"):
        refused = scrape(client, wrong)
        assert refused.status_code == 401
        assert refused.get_json()["error"] == "unauthorized"
        assert token not in refused.get_data(as_text=True)
    assert scrape(client, token).status_code == 200


def test_a_scrape_refreshes_the_pending_gauges(settings: Settings, s3: Any) -> None:
    service = prometheus_service(settings)
    client = create_app(settings, service).test_client()
    for n in range(3):
        assert service.submit.submit(put_document(s3, f"incoming/p{n}.pdf")).status == "submitted"
    figures = MetricsView.parse(scrape(client).get_data(as_text=True))
    assert figures.total("documents_pending") == 3
    assert figures.total("documents_submitted_total") == 3
    assert figures.total("pacing_quota_stopped") == 0


def test_nanonets_answers_are_counted_by_status_with_the_retried_attempts(
    make_settings: Any, s3: Any, emulator_url: str
) -> None:
    service = prometheus_service(make_settings(nanonets_max_retries=2))
    emulator = EmulatorControl(emulator_url)
    emulator.faults(fail_next=[503])
    assert service.submit.submit(put_document(s3, "incoming/a.pdf")).status == "submitted"
    emulator.faults(fail_next=[429])
    held = service.submit.submit(put_document(s3, "incoming/b.pdf"))
    assert held.retryable and held.retry_after is not None  # the pacer's 429 pause, never quarantined

    figures = view(service)
    assert figures.total("nanonets_calls_total", endpoint="predict", status="5xx") == 1  # the retried one
    assert figures.total("nanonets_calls_total", endpoint="predict", status="2xx") == 1
    assert figures.total("nanonets_calls_total", endpoint="predict", status="429") == 1
    assert figures.total("pacing_wait_seconds_count", hold="cooldown") == 1
    assert figures.total("documents_submitted_total") == 1
    assert figures.total("documents_quarantined_total") == 0


def test_a_402_is_counted_and_sets_the_stopped_gauge(settings: Settings, s3: Any, emulator_url: str) -> None:
    service = prometheus_service(settings)
    EmulatorControl(emulator_url).faults(fail_next=[402])
    assert service.submit.submit(put_document(s3, "incoming/credit.pdf")).retryable
    figures = view(service)
    assert figures.total("nanonets_calls_total", endpoint="predict", status="402") == 1
    assert figures.total("pacing_quota_stopped") == 1
    assert service.status().quota_stopped


def test_webhook_answers_are_counted_by_outcome(settings: Settings, s3: Any) -> None:
    service = prometheus_service(settings)
    client = create_app(settings, service).test_client()
    file_id = service.submit.submit(put_document(s3, "incoming/w.pdf")).request_file_id
    assert file_id
    assert client.post("/webhooks/nanonets", data=webhook_for(file_id), headers=AUTH).status_code == 200
    assert client.post("/webhooks/nanonets", data=b"{", headers=AUTH).status_code == 400
    assert client.post("/webhooks/nanonets", data=b'{"hello": 1}', headers=AUTH).status_code == 422
    assert client.post("/webhooks/nanonets", data=webhook_for(file_id)).status_code == 401
    client.post("/events/s3", json={"Records": []}, headers=AUTH)  # another endpoint: not a webhook

    figures = view(service)
    assert figures.by_label("webhooks_received_total", "outcome") == {
        "processed": 1,
        "bad_request": 1,
        "unknown_shape": 1,
        "unauthorized": 1,
    }
    assert figures.total("documents_completed_total", validation="passed") == 1
    assert figures.by_label("documents_quarantined_total", "reason") == {"not_json": 1, "unknown_shape": 1}


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.web" and r.getMessage() == "request"]


def test_the_app_writes_a_line_per_request_unless_the_server_writes_its_own(
    settings: Settings, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Lambda has no access line: the app's request line is the only one. Under gunicorn the deployed config
    takes it out (`post_worker_init`), since its access line says the same."""
    app = create_app(settings)
    with caplog.at_level(logging.INFO, logger="service.web"):
        assert app.test_client().get("/healthz?token=never-logged").status_code == 200
        [line] = request_lines(caplog)
        assert (line.method, line.path, line.status) == ("GET", "/healthz", 200)  # type: ignore[attr-defined]
        caplog.clear()
        without_request_log(app)
        without_request_log(app)  # a second time, or on an app without the line, changes nothing
        without_request_log(Flask("other"))
        without_request_log(None)
        assert app.test_client().get("/healthz").status_code == 200
        assert request_lines(caplog) == []
