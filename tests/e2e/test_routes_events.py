"""Two document types, two routes, two models, under gunicorn: each document's completion event arrives
over real HTTP at a receiver on 127.0.0.1, signed per Standard Webhooks (verified with the
`standardwebhooks` package, not our signer), and each output and its analytics rows carry their route."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.emulator.control import EmulatorControl
from devtools.events import s3_record
from devtools.stack import (
    EMULATOR_INVOICES_MODEL,
    EMULATOR_MODEL,
    REPO,
    TEST_SECRET,
    Process,
    ServiceEnv,
    start_gunicorn,
)
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.receiver import Receiver, webhook_receiver
from tests.support import list_keys, wait_for

pytestmark = pytest.mark.e2e
SIGNING_SECRET = "whsec_" + base64.b64encode(b"e2e-events-signing-secret-32byte").decode()
DOCUMENTS = REPO / "samples" / "documents"
RECEIPT = "fuel-receipt-repsol-2026-11-04.pdf"
INVOICE = "invoice-suministros-levante-2026-11.pdf"


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture()
def routed_service(s3_url: str, emulator_url: str, receiver: Receiver, tmp_path: Path) -> Iterator[Process]:
    """gunicorn (2 workers) with samples/routes.yaml and the receiver as EVENTS_TARGET; the emulator
    (which knows both models) sends its webhooks there."""
    extra = {
        "ROUTES_FILE": str(REPO / "samples" / "routes.yaml"),
        "EVENTS_TARGET": receiver.url,
        "EVENTS_SIGNING_SECRET": SIGNING_SECRET,
    }
    env = ServiceEnv(s3_url=s3_url, emulator_url=emulator_url, output_bucket=OUTPUT_BUCKET, extra=extra)
    process = start_gunicorn(env.as_env(), workers=2, log_dir=tmp_path)
    EmulatorControl(emulator_url).config(
        webhook_url=f"{process.url}/webhooks/nanonets?token={TEST_SECRET}", processing_delay=0.05
    )
    yield process
    process.stop()


def drop_both(s3: Any, service_url: str) -> dict[str, Any]:
    """The receipt under the receipts route, the invoice under the invoices route, in one S3 event."""
    records = []
    for folder, name in (("receipts", RECEIPT), ("invoices", INVOICE)):
        key = f"incoming/{folder}/{name}"
        body = (DOCUMENTS / name).read_bytes()
        etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
        records.append(s3_record(INPUT_BUCKET, key, size=len(body), etag=etag))
    answer = requests.post(
        f"{service_url}/events/s3",
        json={"Records": records},
        headers={"X-Webhook-Token": TEST_SECRET},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_two_routes_send_signed_completion_events_over_http(
    routed_service: Process, receiver: Receiver, s3: Any
) -> None:
    summary = drop_both(s3, routed_service.url)
    assert len(summary["submitted"]) == 2, summary

    wait_for(lambda: len(receiver.received) >= 2, timeout=30)
    events = {}
    for request in receiver.received:
        event = request.verified(SIGNING_SECRET)  # raises unless the signature is right
        assert not request.verifies("whsec_" + base64.b64encode(b"x" * 32).decode())
        assert request.headers["webhook-id"] == event["id"]
        assert request.path == "/hooks/documents"
        events[event["route"]] = event
    assert sorted(events) == ["invoices", "receipts"]

    receipt, invoice = events["receipts"], events["invoices"]
    assert receipt["type"] == invoice["type"] == "document.completed"
    assert receipt["source"]["key"] == f"incoming/receipts/{RECEIPT}"
    assert invoice["source"]["key"] == f"incoming/invoices/{INVOICE}"
    assert receipt["output"] == {"bucket": OUTPUT_BUCKET, "key": f"normalized/receipts/{RECEIPT}.json"}
    assert invoice["output"] == {"bucket": OUTPUT_BUCKET, "key": f"normalized/invoices/{INVOICE}.json"}
    models = {}
    for event in (receipt, invoice):
        body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=event["output"]["key"])["Body"].read()
        document = json.loads(body)
        assert document["nanonets"]["request_file_id"] == event["request_file_id"]
        assert document["validation"]["status"] == event["validation_status"] == "passed"
        models[event["route"]] = document["nanonets"]["model_id"]
    assert models == {"receipts": EMULATOR_MODEL, "invoices": EMULATOR_INVOICES_MODEL}

    rows_keys = list_keys(s3, OUTPUT_BUCKET, "analytics/rows/")
    routes = set()
    for key in rows_keys:
        body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read().decode()
        routes |= {json.loads(line)["route"] for line in body.splitlines()}
    assert len(rows_keys) == 2 and routes == {"receipts", "invoices"}
    assert list_keys(s3, OUTPUT_BUCKET, "_state/outbox") == []  # delivered at once, nothing parked
