"""Hostile input against the service under gunicorn: nobody gets in, nothing crashes, nothing is fetched
that should not be, and neither the API key nor the webhook secret ever reaches a log line."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import requests

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.events import s3_event
from devtools.stack import EMULATOR_KEY, TEST_SECRET, Process
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.e2e.conftest import Stack
from tests.support import list_keys

pytestmark = pytest.mark.e2e
AUTH = {"X-Webhook-Token": TEST_SECRET}


class _Tripwire(http.server.BaseHTTPRequestHandler):
    """Counts every request: anything the service must never fetch points here."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def tripwire() -> Iterator[str]:
    _Tripwire.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Tripwire)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "token",
    [
        "",
        TEST_SECRET[:-1],  # a prefix
        TEST_SECRET + "x",  # an extension
        TEST_SECRET.upper(),
        "x" * len(TEST_SECRET),  # right length, wrong content
        TEST_SECRET[0] * 10_000,  # long
        "%00" + TEST_SECRET,
        "ñ" * 8,
    ],
)
def test_every_wrong_token_is_refused_on_both_endpoints(stack: Stack, token: str) -> None:
    for path in ("/webhooks/nanonets", "/events/s3"):
        by_query = requests.post(f"{stack.service_url}{path}", params={"token": token}, json={}, timeout=10)
        by_header = requests.post(
            f"{stack.service_url}{path}",
            headers={"X-Webhook-Token": token.encode().decode("latin-1")},
            json={},
        )
        if len(token) > 4000:
            # gunicorn's own request-line and header limits refuse it before the app sees it.
            assert (by_query.status_code, by_header.status_code) == (400, 431)
            continue
        assert (by_query.status_code, by_header.status_code) == (401, 401)
        assert by_query.json()["error"] == "unauthorized"
    assert list_keys(stack.s3, OUTPUT_BUCKET, "_state/raw/") == []  # refused before the body is read


def test_oversize_chunked_body_without_content_length_is_refused(stack: Stack) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"result": "'
        for _ in range(21):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    answer = requests.post(
        f"{stack.service_url}/webhooks/nanonets",
        data=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_entity_too_large"


@pytest.mark.parametrize("path", ["/webhooks/nanonets", "/events/s3"])
def test_deeply_nested_json_is_a_clean_client_error(stack: Stack, path: str) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    answer = requests.post(
        stack.service_url + path, data=body, headers={**AUTH, "Content-Type": "application/json"}, timeout=30
    )
    assert answer.status_code in (400, 422), answer.text
    assert "error" in answer.json()


def test_huge_strings_in_fields_are_kept_not_crashed_on(stack: Stack) -> None:
    key = "incoming/huge.pdf"
    body = document_bytes()
    etag = stack.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
    submitted = requests.post(
        f"{stack.service_url}/events/s3",
        json=s3_event(INPUT_BUCKET, key, size=len(body), etag=etag),
        headers=AUTH,
        timeout=30,
    ).json()
    file_id = submitted["submitted"][0]["request_file_id"]
    stack.emulator.flush()
    huge = "9" * 2_000_000
    prediction = [dict(RECEIPT_PAGES[0][1], ocr_text=huge, label="total"), dict(RECEIPT_PAGES[0][0])]
    webhook = {"result": [{"request_file_id": file_id, "page": 0, "prediction": prediction}]}
    answer = requests.post(f"{stack.service_url}/webhooks/nanonets", json=webhook, headers=AUTH, timeout=60)
    assert answer.status_code == 200, answer.text
    document = json.loads(
        stack.s3.get_object(Bucket=OUTPUT_BUCKET, Key="normalized/huge.pdf.json")["Body"].read()
    )
    assert document["fields"]["total"]["value"] == huge  # kept verbatim
    assert document["fields"]["total"]["normalized"] is None  # too long to be an amount: not typed


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("incoming/../_state/claims/x.pdf", "path segment"),
        ("incoming/./x.pdf", "path segment"),
        ("incoming/a\x00b.pdf", "control characters"),
        ("incoming/a\nb.pdf", "control characters"),
        ("incoming/" + "k" * 1100 + ".pdf", "key too long"),
    ],
)
def test_hostile_keys_are_skipped_with_a_reason(stack: Stack, key: str, reason: str) -> None:
    answer = requests.post(
        f"{stack.service_url}/events/s3", json=s3_event(INPUT_BUCKET, key), headers=AUTH, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["submitted"] == [] and reason in answer.json()["skipped"][0]["reason"]
    assert stack.emulator.calls() == []


def test_webhook_for_a_file_of_another_model_is_quarantined(stack: Stack) -> None:
    body = {
        "result": [
            {
                "request_file_id": "file-of-another-model",
                "model_id": "someone-elses-model",
                "page": 0,
                "prediction": RECEIPT_PAGES[0],
            }
        ]
    }
    answer = requests.post(f"{stack.service_url}/webhooks/nanonets", json=body, headers=AUTH, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["files"][0]["outcome"] == "quarantined"
    assert list_keys(stack.s3, OUTPUT_BUCKET, "normalized/") == []


def test_subscribe_url_off_aws_is_never_fetched(stack: Stack, tripwire: str) -> None:
    for url in (f"{tripwire}/confirm", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"):
        message = {
            "Type": "SubscriptionConfirmation",
            "MessageId": "m",
            "Token": "t",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ingest",
            "SubscribeURL": url,
        }
        answer = requests.post(f"{stack.service_url}/events/s3", json=message, headers=AUTH, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["confirmed"] == []
    assert _Tripwire.hits == []


def test_urls_inside_a_webhook_body_are_never_fetched(stack: Stack, tripwire: str) -> None:
    body = {
        "result": [
            {
                "request_file_id": "whatever",
                "page": 0,
                "file_url": f"{tripwire}/file",
                "filepath": f"{tripwire}/path",
                "signed_urls": {"a": f"{tripwire}/signed"},
                "prediction": [dict(RECEIPT_PAGES[0][0], ocr_text=f"{tripwire}/text")],
            }
        ],
        "signed_urls": {"x": {"original": f"{tripwire}/original"}},
    }
    requests.post(f"{stack.service_url}/webhooks/nanonets", json=body, headers=AUTH, timeout=10)
    assert _Tripwire.hits == []


def test_secrets_never_reach_the_logs(stack: Stack, service: Process) -> None:
    """Run last in this module: it reads what every request above (and these) logged."""
    url = f"{stack.service_url}/webhooks/nanonets"
    requests.post(url, params={"token": TEST_SECRET}, data=b"{broken", timeout=10)
    requests.post(url, params={"token": TEST_SECRET + "x"}, json={}, timeout=10)
    requests.post(url, params={"token": TEST_SECRET}, json={"nope": 1}, timeout=10)
    stack.emulator.config(api_keys=["some-other-key"])  # our key is now refused: errors get logged
    key = "incoming/refused.pdf"
    body = document_bytes()
    etag = stack.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
    refused = requests.post(
        f"{stack.service_url}/events/s3",
        json=s3_event(INPUT_BUCKET, key, size=len(body), etag=etag),
        headers=AUTH,
        timeout=30,
    )
    assert refused.json()["failed"], refused.text
    assert EMULATOR_KEY not in refused.text and TEST_SECRET not in refused.text
    log = service.log()
    assert "refused.pdf" in log  # the failure was logged ...
    assert EMULATOR_KEY not in log and TEST_SECRET not in log  # ... without either secret
    for path in list_keys(stack.s3, OUTPUT_BUCKET, "_state/quarantine/"):
        text = stack.s3.get_object(Bucket=OUTPUT_BUCKET, Key=path)["Body"].read().decode()
        assert EMULATOR_KEY not in text and TEST_SECRET not in text


def test_chunked_body_within_the_limit_is_read_whole(stack: Stack) -> None:
    body = json.dumps({"result": [{"request_file_id": "chunked", "page": 0, "prediction": RECEIPT_PAGES[0]}]})

    def chunks() -> Iterator[bytes]:
        data = body.encode()
        for start in range(0, len(data), 100):
            yield data[start : start + 100]

    answer = requests.post(
        f"{stack.service_url}/webhooks/nanonets",
        data=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text  # parsed whole (a truncated body would be 400 not_json)
    assert answer.json()["files"][0]["request_file_id"] == "chunked"
