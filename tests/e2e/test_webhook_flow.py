"""A document dropped in S3 becomes one normalized JSON document: gunicorn + moto server + emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_event
from devtools.proxy import TcpProxy
from devtools.stack import REPO, TEST_SECRET, Process, ServiceEnv, start_gunicorn
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.e2e.conftest import RULES, Stack
from tests.support import list_keys, wait_for

pytestmark = pytest.mark.e2e
AUTH = {"X-Webhook-Token": TEST_SECRET}
SCHEMA = json.loads((REPO / "schemas" / "normalized-document-v1.json").read_text())


def drop(stack: Stack, key: str, body: bytes | None = None) -> dict[str, Any]:
    """Put a document and deliver its S3 event to the service, as S3 would."""
    data = document_bytes() if body is None else body
    etag = stack.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=data)["ETag"].strip('"')
    answer = requests.post(
        f"{stack.service_url}/events/s3",
        json=s3_event(INPUT_BUCKET, key, size=len(data), etag=etag),
        headers=AUTH,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def output(stack: Stack, key: str) -> dict[str, Any]:
    def fetch() -> dict[str, Any] | None:
        try:
            body = stack.s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()
        except stack.s3.exceptions.NoSuchKey:
            return None
        return dict(json.loads(body))

    return wait_for(fetch, timeout=20)


def record(stack: Stack, file_id: str) -> dict[str, Any]:
    body = stack.s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"_state/files/{file_id}.json")["Body"].read()
    return dict(json.loads(body))


def outputs(stack: Stack) -> list[str]:
    return list_keys(stack.s3, OUTPUT_BUCKET, "normalized/")


def test_receipt_becomes_normalized_json(stack: Stack) -> None:
    submitted = drop(stack, "incoming/fleet/recibo 1.pdf")["submitted"]
    document = output(stack, "normalized/fleet/recibo 1.pdf.json")

    jsonschema.validate(document, SCHEMA)
    assert document["schema_version"] == 1
    assert document["source"]["bucket"] == INPUT_BUCKET
    assert document["source"]["key"] == "incoming/fleet/recibo 1.pdf"
    assert document["nanonets"]["request_file_id"] == submitted[0]["request_file_id"]
    assert document["pages"] == 1
    fecha, total = document["fields"]["fecha"], document["fields"]["total"]
    assert (fecha["value"], fecha["normalized"], fecha["type"]) == ("23/12/2025", "2025-12-23", "date")
    assert (total["value"], total["normalized"], total["type"]) == ("45,99 €", 45.99, "amount")
    assert fecha["bbox"] == [100, 200, 250, 230]
    assert document["tables"] == [
        {"label": "lineas_detalle", "page": 0, "rows": [{"descripcion": "Gasoil", "cantidad": "50L"}]}
    ]
    assert document["validation"] == {"status": "passed", "issues": []}
    assert document["review"] == "pending"
    head = stack.s3.head_object(Bucket=OUTPUT_BUCKET, Key="normalized/fleet/recibo 1.pdf.json")
    assert head["ContentType"] == "application/json"
    assert record(stack, submitted[0]["request_file_id"])["status"] == "done"


def test_three_page_document_keeps_every_page(stack: Stack) -> None:
    pages = [
        RECEIPT_PAGES[0],
        [{"label": "observaciones", "ocr_text": "pagina dos", "score": 0.7, "type": "field", "page_no": 1}],
        [{"label": "total", "ocr_text": "12,00", "score": 0.5, "type": "field", "page_no": 2}],
    ]
    drop(stack, "incoming/largo.pdf", document_bytes(pages))
    document = output(stack, "normalized/largo.pdf.json")
    assert document["pages"] == 3
    assert document["fields"]["observaciones"]["page"] == 1
    assert document["fields"]["total"]["normalized"] == 45.99  # the better-scored of the two totals
    assert [o["normalized"] for o in document["fields"]["total"]["others"]] == [12.0]


def test_retrieval_shaped_webhook_gives_same_document(stack: Stack) -> None:
    stack.emulator.config(webhook_shape="retrieval")
    drop(stack, "incoming/retrieval.pdf")
    document = output(stack, "normalized/retrieval.pdf.json")
    assert document["fields"]["total"]["normalized"] == 45.99
    assert document["tables"][0]["rows"] == [{"descripcion": "Gasoil", "cantidad": "50L"}]


def test_duplicate_webhooks_write_one_output_once(stack: Stack) -> None:
    stack.emulator.faults(webhook_repeat=1, repeat_count=3)
    file_id = drop(stack, "incoming/dup.pdf")["submitted"][0]["request_file_id"]
    first = output(stack, "normalized/dup.pdf.json")
    assert stack.emulator.flush()
    stack.emulator.resend_webhook(file_id)
    assert stack.emulator.flush()
    again = output(stack, "normalized/dup.pdf.json")
    assert again == first  # not even rewritten: processed_at is unchanged
    assert outputs(stack) == ["normalized/dup.pdf.json"]
    assert len(record(stack, file_id)["raw_keys"]) == 1


def test_approval_and_rejection_update_review(stack: Stack) -> None:
    file_id = drop(stack, "incoming/review.pdf")["submitted"][0]["request_file_id"]
    assert output(stack, "normalized/review.pdf.json")["review"] == "pending"
    requests.post(
        f"{stack.emulator.base_url}/api/v2/OCR/Model/emulator-model/ApproveFile/{file_id}/",
        auth=("emulator-key-0123456789", ""),
        timeout=10,
    ).raise_for_status()
    wait_for(lambda: output(stack, "normalized/review.pdf.json")["review"] == "approved")
    stack.emulator.reject(file_id)
    wait_for(lambda: output(stack, "normalized/review.pdf.json")["review"] == "rejected")


def test_validation_failures_are_written_with_each_code(stack: Stack) -> None:
    pages = [
        [
            {"label": "fecha", "ocr_text": "31/02/2025", "score": 0.9, "type": "field"},
            {"label": "total", "ocr_text": "45,99", "score": 0.2, "type": "field"},
            {"label": "matricula", "ocr_text": "ABC-1234", "score": 0.9, "type": "field"},
        ]
    ]
    drop(stack, "incoming/malo.pdf", document_bytes(pages))
    document = output(stack, "normalized/malo.pdf.json")
    codes = {(i["field"], i["code"]) for i in document["validation"]["issues"]}
    assert document["validation"]["status"] == "failed"
    assert ("fecha", "bad_format") in codes
    assert ("total", "low_confidence") in codes
    assert ("matricula", "pattern_mismatch") in codes

    drop(stack, "incoming/sin-total.pdf", document_bytes([[pages[0][0]]]))
    missing = output(stack, "normalized/sin-total.pdf.json")
    assert ("total", "missing") in {(i["field"], i["code"]) for i in missing["validation"]["issues"]}


def test_webhook_rejections_answer_as_the_contract_says(stack: Stack) -> None:
    url = f"{stack.service_url}/webhooks/nanonets"
    assert requests.post(url, json={"result": []}, timeout=10).status_code == 401
    assert requests.post(url + "?token=nope-nope-nope", json={"result": []}, timeout=10).status_code == 401
    broken = requests.post(url, data=b"{broken", headers=AUTH, timeout=10)
    assert (broken.status_code, broken.json()["error"]) == (400, "not_json")
    unknown = requests.post(url, json={"what": "is this"}, headers=AUTH, timeout=10)
    assert unknown.status_code == 422
    assert set(unknown.json()) == {"error", "detail"}
    quarantined = list_keys(stack.s3, OUTPUT_BUCKET, "_state/quarantine/")
    assert len(quarantined) == 2  # broken JSON and the unknown shape: kept, not lost
    raw = list_keys(stack.s3, OUTPUT_BUCKET, "_state/raw/")
    assert len(raw) == 2


def test_oversize_body_is_refused(stack: Stack) -> None:
    url = f"{stack.service_url}/webhooks/nanonets"
    big = b'{"result": "' + b"x" * (20 * 1024 * 1024 + 10) + b'"}'
    answer = requests.post(url, data=big, headers={**AUTH, "Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_entity_too_large"


def test_unknown_file_id_is_never_written(stack: Stack) -> None:
    body = {
        "message": "Success",
        "result": [{"request_file_id": "not-ours", "page": 0, "prediction": RECEIPT_PAGES[0]}],
    }
    answer = requests.post(f"{stack.service_url}/webhooks/nanonets", json=body, headers=AUTH, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["files"][0]["outcome"] == "quarantined"
    assert outputs(stack) == []
    assert len(list_keys(stack.s3, OUTPUT_BUCKET, "_state/quarantine/")) == 1


def test_late_webhook_for_older_version_never_overwrites_newer(stack: Stack) -> None:
    stack.emulator.config(webhooks_enabled=False)
    old_id = drop(stack, "incoming/v.pdf", document_bytes(filler=b"old"))["submitted"][0]["request_file_id"]
    # Its result is ready (and its webhook held back) before webhooks are on again: otherwise it could come
    # before the newer version's, and an older result that comes first is written, then replaced.
    assert stack.emulator.flush()
    stack.emulator.config(webhooks_enabled=True)
    newer = [
        [
            {"label": "total", "ocr_text": "99,00", "score": 0.9, "type": "field"},
            {"label": "fecha", "ocr_text": "01/01/2026", "score": 0.9, "type": "field"},
        ]
    ]
    drop(stack, "incoming/v.pdf", document_bytes(newer))
    wait_for(lambda: output(stack, "normalized/v.pdf.json")["fields"]["total"]["normalized"] == 99.0)
    stack.emulator.resend_webhook(old_id)
    assert stack.emulator.flush()
    assert output(stack, "normalized/v.pdf.json")["fields"]["total"]["normalized"] == 99.0
    assert record(stack, old_id)["status"] == "superseded"


def test_storage_down_answers_503_and_nothing_is_lost(
    moto_server: Process, s3: Any, emulator_url: str, tmp_path: Path
) -> None:
    proxy = TcpProxy(int(moto_server.url.rsplit(":", 1)[1]))
    env = ServiceEnv(s3_url=proxy.url, emulator_url=emulator_url, extra={"VALIDATION_RULES": RULES})
    service = start_gunicorn(env.as_env(), workers=1, log_dir=tmp_path)
    try:
        EmulatorControl(emulator_url).config(webhooks_enabled=False)
        body = document_bytes()
        etag = s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/down.pdf", Body=body)["ETag"].strip('"')
        submitted = requests.post(
            f"{service.url}/events/s3",
            headers=AUTH,
            timeout=30,
            json=s3_event(INPUT_BUCKET, "incoming/down.pdf", size=len(body), etag=etag),
        )
        file_id = submitted.json()["submitted"][0]["request_file_id"]
        webhook = {
            "message": "Success",
            "result": [{"request_file_id": file_id, "page": 0, "prediction": RECEIPT_PAGES[0]}],
        }

        proxy.down()
        down = requests.post(f"{service.url}/webhooks/nanonets", json=webhook, headers=AUTH, timeout=60)
        assert down.status_code == 503
        assert down.json()["error"] == "storage_unavailable"
        assert down.headers["Retry-After"]

        proxy.up()  # Nanonets retries after a 503: the same body now goes through
        retried = requests.post(f"{service.url}/webhooks/nanonets", json=webhook, headers=AUTH, timeout=60)
        assert retried.status_code == 200, retried.text
        document = json.loads(
            s3.get_object(Bucket=OUTPUT_BUCKET, Key="normalized/down.pdf.json")["Body"].read()
        )
        assert document["fields"]["total"]["normalized"] == 45.99
    finally:
        service.stop()
        proxy.down()
