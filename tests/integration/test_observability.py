"""Metrics and correlated logs of the in-process service, against the real moto server and emulator."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from service.emulator.control import EmulatorControl
from service.logs import LogContextFilter
from service.observability import Metrics
from service.observability.prometheus import PrometheusSink
from service.observability.view import MetricsView
from service.pipeline import ObjectRef, Pipeline, Services
from service.settings import Settings
from service.web import create_app
from tests.conftest import INPUT_BUCKET
from tests.servers import TEST_SECRET
from tests.support import RECEIPT_PAGES, document_bytes

AUTH = {"X-Webhook-Token": TEST_SECRET}


def prometheus_pipeline(settings: Settings) -> Pipeline:
    return Pipeline(Services.from_settings(settings, metrics=Metrics(PrometheusSink())))


def view(pipeline: Pipeline) -> MetricsView:
    exposition = pipeline.services.metrics.exposition()
    assert exposition is not None
    return MetricsView.parse(exposition.body.decode())


def put_document(s3: Any, key: str, content: bytes = b"") -> ObjectRef:
    body = document_bytes(filler=key.encode() + content)
    etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
    return ObjectRef(bucket=INPUT_BUCKET, key=key, size=len(body), etag=etag)


def webhook_for(file_id: str) -> dict[str, Any]:
    return {
        "message": "Success",
        "result": [{"request_file_id": file_id, "page": 0, "prediction": RECEIPT_PAGES[0]}],
    }


def test_metrics_endpoint_is_open_without_a_token(settings: Settings, s3: Any) -> None:
    client = create_app(settings).test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "nanonets_ingest_documents_submitted_total" in answer.get_data(as_text=True)


def test_retried_429_and_a_402_are_counted_by_status(make_settings: Any, s3: Any, emulator_url: str) -> None:
    pipeline = prometheus_pipeline(make_settings(nanonets_max_retries=2))
    EmulatorControl(emulator_url).faults(fail_next=[429], retry_after=0)
    assert pipeline.submit_object(put_document(s3, "incoming/a.pdf")).status == "submitted"
    EmulatorControl(emulator_url).faults(fail_next=[402])
    refused = pipeline.submit_object(put_document(s3, "incoming/b.pdf"))
    assert refused.status == "failed"

    figures = view(pipeline)
    assert figures.total("nanonets_calls_total", endpoint="predict", status="429") == 1
    assert figures.total("nanonets_calls_total", endpoint="predict", status="402") == 1
    assert figures.total("nanonets_calls_total", endpoint="predict", status="2xx") == 1
    assert figures.total("documents_submitted_total") == 1
    assert figures.by_label("documents_quarantined_total", "reason") == {"submission_failed": 1}


def test_superseded_and_unknown_results_are_counted(settings: Settings, s3: Any) -> None:
    pipeline = prometheus_pipeline(settings)
    old = pipeline.submit_object(put_document(s3, "incoming/v.pdf", b"old"))
    new = pipeline.submit_object(put_document(s3, "incoming/v.pdf", b"new"))
    assert old.request_file_id and new.request_file_id
    pipeline.receive_webhook(_json(webhook_for(old.request_file_id)))
    pipeline.receive_webhook(_json(webhook_for("never-ours")))

    figures = view(pipeline)
    assert figures.total("documents_superseded_total") == 1
    assert figures.total("documents_completed_total") == 0
    assert figures.by_label("documents_quarantined_total", "reason") == {"unknown_request_file_id": 1}


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(LogContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture()
def captured() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_state_change_of_a_document_carries_its_ids(
    pipeline: Pipeline, s3: Any, captured: Captured
) -> None:
    outcome = pipeline.submit_object(put_document(s3, "incoming/fleet/log.pdf"))
    assert outcome.request_file_id
    pipeline.receive_webhook(_json(webhook_for(outcome.request_file_id)))

    changes = {r.getMessage(): r for r in captured.records if r.name == "service.state"}
    assert set(changes) == {"submitted", "output_written"}
    for record in changes.values():
        assert record.__dict__["key"] == "incoming/fleet/log.pdf"
        assert record.__dict__["bucket"] == INPUT_BUCKET
        assert record.__dict__["request_file_id"] == outcome.request_file_id
        assert record.__dict__["version_token"]
    assert changes["output_written"].__dict__["elapsed_seconds"] >= 0
    assert changes["output_written"].__dict__["validation"] == "passed"
    # Outside the document's handling, nothing is left in the context.
    logging.getLogger("after").info("unrelated")
    assert "key" not in captured.records[-1].__dict__


def _json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body).encode()
