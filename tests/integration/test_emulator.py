"""The Nanonets emulator itself over real HTTP: downloads, deterministic predictions, webhooks, faults, reset.

A tiny local HTTP server (`LocalHost`) serves documents and receives webhooks. Live Nanonets' shapes, paths
and limits: test_emulator_live.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from devtools.documents import document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.stack import free_port
from tests.conftest import INPUT_BUCKET
from tests.integration.emulator_api import (
    AUTH,
    LocalHost,
    api,
    boxes,
    expected_receipt,
    label_file,
    label_urls,
    retrieval,
)
from tests.support import wait_for

pytestmark = pytest.mark.usefixtures("seed_shapes")


@pytest.fixture()
def control(emulator_url: str) -> EmulatorControl:
    return EmulatorControl(emulator_url)


# ---------------- downloads ----------------


def test_downloads_a_presigned_s3_url_and_predicts_its_embedded_pages(
    s3: Any, emulator_url: str, control: EmulatorControl
) -> None:
    s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/recibo 7.pdf", Body=document_bytes())
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": INPUT_BUCKET, "Key": "incoming/recibo 7.pdf"}, ExpiresIn=600
    )

    answer = label_urls(emulator_url, [url], request_metadata='{"driver": "7"}')

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert boxes(body) == expected_receipt()  # only the downloaded bytes carry these values
    assert body["result"][0]["input"] == "recibo 7.pdf"
    assert body["result"][0]["request_metadata"] == '{"driver": "7"}'
    [record] = control.files()
    assert record["source"] == url
    assert record["state"] == "ready"
    assert record["request_file_id"] == body["result"][0]["request_file_id"]


def test_label_urls_accepts_a_json_body_too(host: LocalHost, emulator_url: str) -> None:
    host.documents["/docs/a.pdf"] = document_bytes()
    answer = api(
        emulator_url,
        "POST",
        "/LabelUrls/",
        json={"urls": [host.url + "/docs/a.pdf"], "request_metadata": "m-1"},
    )
    assert answer.status_code == 200, answer.text
    assert boxes(answer.json()) == expected_receipt()
    assert answer.json()["result"][0]["request_metadata"] == "m-1"


def test_follows_redirects_when_downloading(host: LocalHost, emulator_url: str) -> None:
    host.documents["/final.pdf"] = document_bytes()
    host.redirects["/moved.pdf"] = host.url + "/final.pdf"
    answer = label_urls(emulator_url, [host.url + "/moved.pdf"])
    assert answer.status_code == 200, answer.text
    assert boxes(answer.json()) == expected_receipt()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_url_to_a_closed_port_is_a_nanonets_style_400(
    emulator_url: str, control: EmulatorControl, asynchronous: bool
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/gone.pdf"
    answer = label_urls(emulator_url, [dead], asynchronous=asynchronous)

    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "could not download" in answer.json()["message"]
    assert dead in answer.json()["message"]
    assert control.files() == []
    assert requests.get(emulator_url + "/_emulator/health", timeout=5).json() == {"status": "ok"}
    assert label_file(emulator_url, "still.pdf", b"%PDF-1.4 alive").status_code == 200


def test_a_url_answering_404_is_a_400_naming_the_status(host: LocalHost, emulator_url: str) -> None:
    answer = label_urls(emulator_url, [host.url + "/missing.pdf"])
    assert answer.status_code == 400
    assert "HTTP 404" in answer.json()["message"]


def test_missing_urls_or_files_are_400(emulator_url: str) -> None:
    assert label_urls(emulator_url, []).status_code == 400
    no_file = api(emulator_url, "POST", "/LabelFile/", data={"request_metadata": "x"})
    assert no_file.status_code == 400
    assert no_file.json()["message"]


# ---------------- predictions ----------------


def test_same_document_gives_the_same_prediction(host: LocalHost, emulator_url: str) -> None:
    content = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\nplain receipt 123\n%%EOF\n"
    host.documents["/same.pdf"] = content
    first = label_file(emulator_url, "same.pdf", content).json()
    second = label_file(emulator_url, "same.pdf", content).json()
    by_url = label_urls(emulator_url, [host.url + "/same.pdf"]).json()

    assert boxes(first) == boxes(second) == boxes(by_url)
    assert first["result"][0]["request_file_id"] != second["result"][0]["request_file_id"]
    labels = [box["label"] for box in boxes(first)[0]]
    assert labels == ["fecha", "total", "proveedor", "lineas_detalle"]
    fields = {box["label"]: box["ocr_text"] for box in boxes(first)[0] if box["type"] == "field"}
    assert re.fullmatch(r"\d{2}/\d{2}/2025", fields["fecha"])
    assert re.fullmatch(r"\d+,\d{2} €", fields["total"])

    other = label_file(emulator_url, "same.pdf", content.replace(b"123", b"456")).json()
    assert boxes(other) != boxes(first)


def test_page_count_and_name_rules(emulator_url: str) -> None:
    two_pages = b"%PDF-1.4\n<< /Type /Pages /Count 2 >>\n<< /Type /Page >>\n<< /Type /Page >>\n%%EOF"
    pages = boxes(label_file(emulator_url, "two.pdf", two_pages).json())
    assert len(pages) == 2
    assert [box["label"] for box in pages[1]] == ["observaciones"]

    blank = boxes(label_file(emulator_url, "scan-blank.pdf", two_pages).json())
    assert blank == [[], []]

    low = boxes(label_file(emulator_url, "lowconf.png", b"\x89PNG not really").json())
    assert len(low) == 1
    assert low[0]
    assert {box["score"] for box in low[0]} == {0.2}


def test_async_answers_not_ready_until_processed(emulator_url: str, control: EmulatorControl) -> None:
    control.config(processing_delay=30)
    accepted = label_file(emulator_url, "slow.pdf", document_bytes(), asynchronous=True)
    assert accepted.status_code == 200
    [item] = accepted.json()["result"]
    assert item["status"] == "processing"
    pending = retrieval(emulator_url, item["request_file_id"])
    assert pending["moderated_images"] == pending["unmoderated_images"] == []
    assert pending["moderated_images_count"] == pending["unmoderated_images_count"] == 0
    assert control.files()[0]["state"] == "processing"
    control.reset()  # cancels the delayed processing instead of waiting it out


def test_async_result_is_retrievable_after_processing(emulator_url: str, control: EmulatorControl) -> None:
    accepted = label_file(emulator_url, "r.pdf", document_bytes(), asynchronous=True, request_metadata="md")
    file_id = accepted.json()["result"][0]["request_file_id"]
    assert control.flush(timeout=10)
    body = retrieval(emulator_url, file_id)
    assert body["unmoderated_images_count"] == 1
    [page] = body["unmoderated_images"]
    assert page["predicted_boxes"] == expected_receipt()[0]
    assert page["request_file_id"] == file_id
    assert page["request_metadata"] == "md"
    assert page["is_moderated"] is False


# ---------------- webhooks ----------------


def test_webhook_delivered_in_prediction_shape(webhooks: LocalHost, emulator_url: str) -> None:
    webhooks.documents["/w.pdf"] = document_bytes()
    accepted = label_urls(
        emulator_url, [webhooks.url + "/w.pdf"], asynchronous=True, request_metadata='{"a":1}'
    )
    file_id = accepted.json()["result"][0]["request_file_id"]

    [body] = wait_for(webhooks.received, timeout=10)
    [page] = body["result"]
    assert page["request_file_id"] == file_id
    assert page["request_metadata"] == '{"a":1}'
    assert page["page"] == 0
    assert page["input"] == "w.pdf"
    assert page["prediction"] == expected_receipt()[0]


def test_webhook_in_retrieval_shape_then_approval_and_rejection(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.config(webhook_shape="retrieval")
    file_id = label_file(emulator_url, "r.pdf", document_bytes(), asynchronous=True).json()["result"][0][
        "request_file_id"
    ]
    [inference] = wait_for(webhooks.received, timeout=10)
    assert inference["unmoderated_images"][0]["request_file_id"] == file_id
    assert inference["unmoderated_images"][0]["is_moderated"] is False
    assert inference["unmoderated_images"][0]["predicted_boxes"] == expected_receipt()[0]

    assert api(emulator_url, "POST", f"/ApproveFile/{file_id}/").status_code == 200
    approval = wait_for(lambda: webhooks.received()[1:], timeout=10)[0]
    assert approval["moderated_images_count"] == 1
    assert approval["moderated_images"][0]["is_moderated"] is True
    assert approval["moderated_images"][0]["request_file_id"] == file_id

    control.reject(file_id)
    rejection = wait_for(lambda: webhooks.received()[2:], timeout=10)[0]
    assert rejection["status"] == "rejected"
    assert rejection["unmoderated_images"][0]["request_file_id"] == file_id
    assert control.files()[0]["rejected"] is True


def test_failed_webhook_delivery_is_retried(webhooks: LocalHost, emulator_url: str) -> None:
    webhooks.fail_posts = 2
    label_file(emulator_url, "retry.pdf", document_bytes(), asynchronous=True)
    [body] = wait_for(webhooks.received, timeout=10)
    assert body["result"]
    assert webhooks.attempts == 3


def test_no_webhook_without_a_configured_url(
    host: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    label_file(emulator_url, "quiet.pdf", document_bytes(), asynchronous=True)
    assert control.flush(timeout=10)
    assert host.received() == []
    assert control.files()[0]["webhooks_sent"] == 0


# ---------------- faults ----------------


def test_fail_next_answers_in_order_with_retry_after_on_429(
    emulator_url: str, control: EmulatorControl
) -> None:
    control.faults(fail_next=[429, 503], retry_after=3)
    first = api(emulator_url, "POST", "/Train/")
    second = api(emulator_url, "POST", "/Train/")
    third = api(emulator_url, "POST", "/Train/")

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert second.status_code == 503
    assert "Retry-After" not in second.headers
    assert third.status_code == 200
    assert [c["status"] for c in control.calls()] == [429, 503, 200]


def test_rate_429_answers_every_call_with_retry_after(emulator_url: str, control: EmulatorControl) -> None:
    control.faults(rate_429=1.0, retry_after=2)
    answers = [api(emulator_url, "POST", "/Train/") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 429]
    assert {a.headers.get("Retry-After") for a in answers} == {"2"}


def test_rate_limit_rps_answers_429_with_retry_after(emulator_url: str, control: EmulatorControl) -> None:
    control.faults(rate_limit_rps=1)
    answers = [api(emulator_url, "POST", "/Train/") for _ in range(5)]
    statuses = [a.status_code for a in answers]
    assert statuses[0] == 200
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) >= 3
    assert all(a.headers.get("Retry-After") == "1" for a in limited)


def test_rate_limit_rps_above_one_still_sends_an_integer_retry_after(
    emulator_url: str, control: EmulatorControl
) -> None:
    control.faults(rate_limit_rps=4)
    answers = [api(emulator_url, "POST", "/Train/") for _ in range(10)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited
    for answer in limited:
        assert re.fullmatch(r"\d+", answer.headers.get("Retry-After", "")), answer.headers.get("Retry-After")


def test_rate_5xx_answers_server_errors(emulator_url: str, control: EmulatorControl) -> None:
    control.faults(rate_5xx=1.0, seed=7)
    statuses = {api(emulator_url, "POST", "/Train/").status_code for _ in range(6)}
    assert statuses <= {500, 502, 503}
    assert statuses


def test_webhook_drop_drops_every_webhook(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.faults(webhook_drop=1.0)
    for name in ("a.pdf", "b.pdf"):
        assert label_file(emulator_url, name, document_bytes(), asynchronous=True).status_code == 200
    assert control.flush(timeout=10)
    assert webhooks.received() == []
    assert webhooks.attempts == 0
    assert [f["state"] for f in control.files()] == ["ready", "ready"]
    assert [f["webhooks_sent"] for f in control.files()] == [0, 0]


def test_webhook_repeat_sends_duplicates(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.faults(webhook_repeat=1.0, repeat_count=3)
    file_id = label_file(emulator_url, "dup.pdf", document_bytes(), asynchronous=True).json()["result"][0][
        "request_file_id"
    ]
    assert control.flush(timeout=10)
    received = webhooks.received()
    assert len(received) == 3
    assert received[0] == received[1] == received[2]
    assert received[0]["result"][0]["request_file_id"] == file_id
    assert control.files()[0]["webhooks_sent"] == 3


def test_manual_resend_delivers_the_webhook_again(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    file_id = label_file(emulator_url, "again.pdf", document_bytes(), asynchronous=True).json()["result"][0][
        "request_file_id"
    ]
    assert control.flush(timeout=10)
    control.resend_webhook(file_id)
    assert control.flush(timeout=10)
    first, second = webhooks.received()
    assert first == second
    assert control.files()[0]["webhooks_sent"] == 2


def test_shuffle_pages_reorders_pages_in_webhooks(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.faults(shuffle_pages=True, seed=3)
    eight_pages = b"%PDF-1.4\n" + b"<< /Type /Page >>\n" * 8 + b"%%EOF"
    label_file(emulator_url, "long.pdf", eight_pages, asynchronous=True)
    assert control.flush(timeout=10)
    [body] = webhooks.received()
    order = [page["page"] for page in body["result"]]
    assert sorted(order) == list(range(8))
    assert order != list(range(8))


def test_unknown_fault_or_config_key_is_refused(emulator_url: str) -> None:
    assert (
        requests.post(emulator_url + "/_emulator/faults", json={"rate_42": 1}, timeout=5).status_code == 400
    )
    assert requests.post(emulator_url + "/_emulator/config", json={"colour": 1}, timeout=5).status_code == 400


def test_reset_clears_faults_files_calls_and_config(
    host: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.reset()
    start = control.config()  # the start-up config
    control.config(webhook_url=host.url + "/hook", quota=5, new_retrieval_paths=False, processing_delay=9)
    label_file(emulator_url, "kept.pdf", document_bytes())
    control.faults(fail_next=[500, 500], rate_429=1.0, webhook_drop=1.0)
    assert control.files()
    assert control.calls()

    control.reset()

    assert control.files() == []
    assert control.calls() == []
    assert control.config() == start
    assert start["webhook_url"] is None
    assert start["quota"] is None
    assert start["new_retrieval_paths"] is True
    answer = api(emulator_url, "POST", "/Train/")
    assert answer.status_code == 200
    assert [c["status"] for c in control.calls()] == [200]


# ---------------- the API's own errors ----------------


def test_auth_quota_and_model_errors(emulator_url: str, control: EmulatorControl) -> None:
    assert api(emulator_url, "POST", "/Train/", auth=("not-the-key", "")).status_code == 401
    assert api(emulator_url, "POST", "/Train/", auth=None).status_code == 401
    assert (
        requests.post(f"{emulator_url}/api/v2/OCR/Model/other-model/Train/", auth=AUTH, timeout=5).status_code
        == 404
    )
    control.config(quota=1)
    assert label_file(emulator_url, "q.pdf", b"%PDF-1.4 q").status_code == 200
    over = label_file(emulator_url, "q.pdf", b"%PDF-1.4 q")
    assert over.status_code == 402
    assert over.json()["message"]
    assert [(c["method"], c["status"]) for c in control.calls()][-1] == ("POST", 402)


def test_delete_makes_the_file_404_and_update_checks_its_body(
    emulator_url: str, control: EmulatorControl
) -> None:
    file_id = label_file(emulator_url, "d.pdf", document_bytes()).json()["result"][0]["request_file_id"]
    assert api(emulator_url, "PATCH", f"/UpdateFile/{file_id}/", json={"nope": 1}).status_code == 400
    changed = api(
        emulator_url,
        "PATCH",
        f"/UpdateFile/{file_id}/",
        json={"fields": [{"label": "total", "ocr_text": "1,00 €"}]},
    )
    assert changed.status_code == 200
    [page] = retrieval(emulator_url, file_id)["unmoderated_images"]
    texts = {box["label"]: box.get("ocr_text") for box in page["predicted_boxes"]}
    assert texts["total"] == "1,00 €"
    assert texts["fecha"] == "23/12/2025"  # untouched
    assert api(emulator_url, "DELETE", f"/DeleteFile/{file_id}/").status_code == 200
    assert api(emulator_url, "GET", f"/getFile/{file_id}/").status_code == 404
    assert control.files()[0]["state"] == "deleted"
