"""Lambda publishes its metrics as CloudWatch embedded metric format (EMF) blobs on stdout, one flush per
invocation, with the names and counts of what the invocation did."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_record, sqs_batch
from devtools.stack import TEST_SECRET
from service.observability.catalog import CATALOG, CLOUDWATCH_NAMESPACE
from tests.conftest import INPUT_BUCKET

DOCUMENTS = 3
UNITS = ["Count", "Seconds"]

# The document structure of the EMF specification (CloudWatch user guide), as far as we use it.
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "array",
                                    "maxItems": 9,
                                    "items": {"type": "string", "minLength": 1},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 255},
                                        "Unit": {"enum": UNITS},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


@pytest.fixture()
def lambda_env(make_settings: Any, s3: Any, emulator_url: str) -> Iterator[Any]:
    """service.aws_lambda with the test settings in the environment and nothing cached from another test."""
    from service import aws_lambda

    make_settings()
    aws_lambda._service.cache_clear()
    aws_lambda._wsgi_handler.cache_clear()
    yield aws_lambda
    aws_lambda._service.cache_clear()
    aws_lambda._wsgi_handler.cache_clear()


def emf_blobs(output: str) -> list[dict[str, Any]]:
    """Every stdout line that is an EMF document, checked against the specification's structure."""
    blobs = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        jsonschema.validate(document, EMF_SCHEMA)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                assert all(isinstance(document[name], str) for name in dimensions)  # dimension targets
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]  # each metric is a member of the root
                values = value if isinstance(value, list) else [value]
                assert 1 <= len(values) <= 100 and all(isinstance(v, int | float) for v in values)
        blobs.append(document)
    return blobs


def metric_sum(blobs: list[dict[str, Any]], name: str, **dimensions: str) -> float:
    total = 0.0
    for blob in blobs:
        if name in blob and all(blob.get(k) == v for k, v in dimensions.items()):
            value = blob[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def http_event(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) request, as the http function receives it."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": f"token={TEST_SECRET}",
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "req-1",
            "stage": "$default",
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def test_each_invocation_prints_valid_emf_with_what_it_did(
    lambda_env: Any, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = []
    for n in range(DOCUMENTS):
        key = f"incoming/lambda/doc-{n}.pdf"
        body = document_bytes(filler=key.encode())
        etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
        record = s3_record(INPUT_BUCKET, key, size=len(body), etag=etag)
        messages.append((f"m-{n}", json.dumps({"Records": [record]})))
    capsys.readouterr()

    answer = lambda_env.events_handler(sqs_batch(messages), None)
    assert answer == {"batchItemFailures": []}
    submitted = emf_blobs(capsys.readouterr().out)
    assert metric_sum(submitted, "documents_submitted_total") == DOCUMENTS
    assert metric_sum(submitted, "nanonets_calls_total", endpoint="predict", status="2xx") == DOCUMENTS

    pending = [entry.request_file_id for entry in lambda_env._service().stores.ledger.entries("pending")]
    assert len(pending) == DOCUMENTS
    for file_id in pending:
        webhook = {
            "message": "Success",
            "result": [{"request_file_id": file_id, "page": 0, "prediction": RECEIPT_PAGES[0]}],
        }
        response = lambda_env.http_handler(http_event("/webhooks/nanonets", webhook), None)
        assert response["statusCode"] == 200, response
    completed = emf_blobs(capsys.readouterr().out)
    assert len({blob["_aws"]["Timestamp"] for blob in completed}) >= 1
    assert metric_sum(completed, "webhooks_received_total", outcome="processed") == DOCUMENTS
    assert metric_sum(completed, "documents_completed_total", validation="passed") == DOCUMENTS
    assert metric_sum(completed, "documents_submitted_total") == 0  # flushed once, not again

    lambda_env.reconcile_handler({"older_than_seconds": 0}, None)
    reconciled = emf_blobs(capsys.readouterr().out)
    assert metric_sum(reconciled, "documents_pending") == 0

    names = {
        m["Name"]
        for b in submitted + completed + reconciled
        for d in b["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
    }
    assert names <= {spec.name for spec in CATALOG}
    namespaces = {d["Namespace"] for b in submitted + completed for d in b["_aws"]["CloudWatchMetrics"]}
    assert namespaces == {CLOUDWATCH_NAMESPACE}


def test_metrics_are_flushed_when_the_handler_raises(
    lambda_env: Any,
    s3: Any,
    emulator_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NANONETS_MAX_RETRIES", "1")
    EmulatorControl(emulator_url).faults(fail_next=[503, 503])
    body = document_bytes()
    etag = s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/down.pdf", Body=body)["ETag"].strip('"')
    event = {"Records": [s3_record(INPUT_BUCKET, "incoming/down.pdf", size=len(body), etag=etag)]}
    capsys.readouterr()
    with pytest.raises(RuntimeError, match="let Lambda retry"):
        lambda_env.events_handler(event, None)  # a direct S3 event: Lambda's own retry takes over
    blobs = emf_blobs(capsys.readouterr().out)
    assert metric_sum(blobs, "nanonets_calls_total", endpoint="predict", status="5xx") == 2  # retried one too
    assert metric_sum(blobs, "documents_quarantined_total", reason="submission_failed") == 1
    assert metric_sum(blobs, "documents_submitted_total") == 0
