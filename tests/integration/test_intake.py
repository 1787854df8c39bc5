"""Intake over real HTTP: moto server for S3, the emulator process for Nanonets."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from flask.testing import FlaskClient

from devtools.documents import document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.events import eventbridge_event, s3_event, sns_envelope, sqs_batch
from devtools.stack import TEST_SECRET, free_port
from service.aws_lambda import events_handler
from service.bootstrap import Service, build
from service.models.source import SourceRef
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.support import list_keys

AUTH = {"X-Webhook-Token": TEST_SECRET}


def submissions(emulator_url: str) -> list[dict[str, Any]]:
    return [
        c for c in EmulatorControl(emulator_url).calls() if "LabelUrls" in c["path"] and c["status"] == 200
    ]


def put(s3: Any, key: str, body: bytes | None = None, bucket: str = INPUT_BUCKET) -> dict[str, Any]:
    data = document_bytes() if body is None else body
    response = s3.put_object(Bucket=bucket, Key=key, Body=data)
    return {"size": len(data), "etag": response["ETag"].strip('"')}


def ledger_records(s3: Any) -> list[str]:
    return list_keys(s3, OUTPUT_BUCKET, "_state/files/")


def test_same_event_three_times_submits_once(client: FlaskClient, s3: Any, emulator_url: str) -> None:
    meta = put(s3, "incoming/fleet/recibo 1.pdf")
    event = s3_event(INPUT_BUCKET, "incoming/fleet/recibo 1.pdf", **meta)
    answers = [client.post("/events/s3", json=event, headers=AUTH) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(answers[0].json["submitted"]) == 1
    assert answers[0].json["submitted"][0]["key"] == "incoming/fleet/recibo 1.pdf"
    for later in answers[1:]:
        assert later.json["submitted"] == []
        assert "already submitted" in later.json["skipped"][0]["reason"]
    assert len(submissions(emulator_url)) == 1
    assert len(ledger_records(s3)) == 1


def test_concurrent_duplicate_events_submit_once(service: Service, s3: Any, emulator_url: str) -> None:
    meta = put(s3, "incoming/race.pdf")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        barrier.wait()
        outcomes.append(
            service.submit.submit(
                SourceRef(bucket=INPUT_BUCKET, key="incoming/race.pdf"), meta["size"]
            ).status
        )

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["skipped", "skipped", "skipped", "submitted"]
    assert len(submissions(emulator_url)) == 1


@pytest.mark.parametrize(
    ("key", "size", "reason_part"),
    [
        ("elsewhere/recibo.pdf", 10, "prefix"),
        ("incoming/notes.txt", 10, "suffix"),
        ("incoming/folder/", 0, "folder"),
        ("incoming/empty.pdf", 0, "empty"),
        ("normalized/x.pdf", 10, "prefix"),
    ],
)
def test_ineligible_keys_are_skipped_with_reasons(
    client: FlaskClient, emulator_url: str, key: str, size: int, reason_part: str
) -> None:
    answer = client.post("/events/s3", json=s3_event(INPUT_BUCKET, key, size=size), headers=AUTH)
    assert answer.status_code == 200
    assert answer.json["submitted"] == []
    assert reason_part in answer.json["skipped"][0]["reason"].lower()
    assert submissions(emulator_url) == []


def test_too_large_document_is_skipped(make_settings: Any, s3: Any, emulator_url: str) -> None:
    service = build(make_settings(max_document_bytes=100))
    meta = put(s3, "incoming/big.pdf", b"x" * 500 + document_bytes())
    outcome = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/big.pdf"))
    assert outcome.status == "skipped"
    assert "too large" in (outcome.reason or "")
    assert meta["size"] > 100


def test_own_outputs_never_trigger_a_submission(make_settings: Any, s3: Any, emulator_url: str) -> None:
    settings = make_settings(output_prefix="incoming/normalized/")
    service = build(settings)
    put(s3, "incoming/normalized/recibo.pdf", bucket=OUTPUT_BUCKET)
    outcome = service.submit.submit(SourceRef(bucket=OUTPUT_BUCKET, key="incoming/normalized/recibo.pdf"))
    assert outcome.status == "skipped"
    assert submissions(emulator_url) == []


@pytest.mark.parametrize(
    "key",
    ["incoming/recibo gasoil+1.pdf", "incoming/factúra ñ/año 2025.pdf", "incoming/a%20b.pdf"],
)
def test_encoded_keys_are_decoded_as_s3_encodes_them(
    client: FlaskClient, s3: Any, emulator_url: str, key: str
) -> None:
    meta = put(s3, key)
    answer = client.post("/events/s3", json=s3_event(INPUT_BUCKET, key, **meta), headers=AUTH)
    assert answer.json["submitted"][0]["key"] == key, answer.json
    assert len(submissions(emulator_url)) == 1


def test_presigned_url_is_sigv4_and_downloadable(service: Service, s3: Any) -> None:
    body = document_bytes()
    put(s3, "incoming/sig.pdf", body)
    url = service.stores.sources.presign(SourceRef(bucket=INPUT_BUCKET, key="incoming/sig.pdf"), 21600)
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["21600"]
    assert requests.get(url, timeout=5).content == body


def test_presign_lifetime_is_capped_at_seven_days(service: Service, s3: Any) -> None:
    put(s3, "incoming/sig.pdf")
    url = service.stores.sources.presign(
        SourceRef(bucket=INPUT_BUCKET, key="incoming/sig.pdf"), 30 * 24 * 3600
    )
    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == [str(7 * 24 * 3600)]


def test_submission_carries_source_metadata(service: Service, s3: Any, emulator_url: str) -> None:
    meta = put(s3, "incoming/meta.pdf")
    outcome = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/meta.pdf"))
    files = EmulatorControl(emulator_url).files()
    assert [f["request_file_id"] for f in files] == [outcome.request_file_id]
    sent = json.loads(files[0]["request_metadata"])
    assert sent["bucket"] == INPUT_BUCKET
    assert sent["key"] == "incoming/meta.pdf"
    assert sent["etag"] == meta["etag"]
    assert sent["version_id"] is None


def test_a_429_on_submission_holds_every_document_back_then_they_submit(
    make_settings: Any, s3: Any, emulator_url: str
) -> None:
    # Predict calls leave waiting to the pacer above the client (the limit is pages per minute per model).
    service = build(make_settings(nanonets_429_pause_seconds=0.5))
    put(s3, "incoming/busy.pdf")
    put(s3, "incoming/other.pdf")
    EmulatorControl(emulator_url).faults(fail_next=[429], retry_after=0)
    throttled = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/busy.pdf"))
    assert (throttled.status, throttled.retryable) == ("failed", True)
    assert throttled.retry_after is not None and throttled.retry_after >= 0.5
    other = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/other.pdf"))
    assert other.status == "failed"  # the pause holds the whole model, not one document
    assert submissions(emulator_url) == []
    assert list_keys(s3, OUTPUT_BUCKET, "_state/quarantine/") == []  # throttled is not broken
    time.sleep(0.6)
    for key in ("incoming/busy.pdf", "incoming/other.pdf"):
        assert service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key=key)).status == "submitted"
    assert len(submissions(emulator_url)) == 2


def test_a_5xx_on_submission_is_retried_inside_the_client(
    service: Service, s3: Any, emulator_url: str
) -> None:
    put(s3, "incoming/busy.pdf")
    EmulatorControl(emulator_url).faults(fail_next=[503, 502])
    outcome = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/busy.pdf"))
    assert outcome.status == "submitted"
    assert len(submissions(emulator_url)) == 1


def test_nanonets_down_fails_then_a_repeat_submits(make_settings: Any, s3: Any, emulator_url: str) -> None:
    down = make_settings(nanonets_base_url=f"http://127.0.0.1:{free_port()}/api/v2", nanonets_max_retries=1)
    put(s3, "incoming/later.pdf")
    failed = build(down).submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/later.pdf"))
    assert failed.status == "failed"
    assert failed.retryable
    assert list_keys(s3, OUTPUT_BUCKET, "_state/claims/") == []  # nothing marked as submitted
    assert len(list_keys(s3, OUTPUT_BUCKET, "_state/quarantine/")) == 1  # visible, not lost

    healthy = build(make_settings())
    again = healthy.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/later.pdf"))
    assert again.status == "submitted"
    assert list_keys(s3, OUTPUT_BUCKET, "_state/quarantine/") == []


def test_wrong_api_key_is_reported_as_configuration(make_settings: Any, s3: Any, emulator_url: str) -> None:
    service = build(make_settings(nanonets_api_key="not-the-key"))
    put(s3, "incoming/key.pdf")
    outcome = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/key.pdf"))
    assert outcome.status == "failed"
    assert not outcome.retryable
    assert "401" in (outcome.reason or "")


def test_new_content_under_same_key_is_submitted_again(service: Service, s3: Any, emulator_url: str) -> None:
    put(s3, "incoming/v.pdf", document_bytes(filler=b"one"))
    first = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/v.pdf"))
    put(s3, "incoming/v.pdf", document_bytes(filler=b"two"))
    second = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/v.pdf"))
    assert first.status == second.status == "submitted"
    assert first.request_file_id != second.request_file_id


def test_sns_envelope_over_http(client: FlaskClient, s3: Any, emulator_url: str) -> None:
    meta = put(s3, "incoming/sns.pdf")
    answer = client.post(
        "/events/s3",
        data=json.dumps(sns_envelope(s3_event(INPUT_BUCKET, "incoming/sns.pdf", **meta))),
        headers={**AUTH, "Content-Type": "text/plain; charset=UTF-8"},
    )
    assert answer.status_code == 200
    assert len(answer.json["submitted"]) == 1


def test_eventbridge_object_created(client: FlaskClient, s3: Any, emulator_url: str) -> None:
    meta = put(s3, "incoming/eb one.pdf")
    answer = client.post(
        "/events/s3", json=eventbridge_event(INPUT_BUCKET, "incoming/eb one.pdf", **meta), headers=AUTH
    )
    assert answer.json["submitted"][0]["key"] == "incoming/eb one.pdf"


def test_deletes_and_test_events_are_skipped_not_errors(client: FlaskClient, emulator_url: str) -> None:
    deleted = client.post(
        "/events/s3",
        json=s3_event(INPUT_BUCKET, "incoming/x.pdf", event="ObjectRemoved:Delete"),
        headers=AUTH,
    )
    test_event = client.post(
        "/events/s3",
        json={
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-11-24T10:00:00Z",
            "Bucket": INPUT_BUCKET,
            "RequestId": "1",
            "HostId": "2",
        },
        headers=AUTH,
    )
    assert deleted.status_code == test_event.status_code == 200
    assert deleted.json["skipped"] and test_event.json["skipped"]
    assert submissions(emulator_url) == []


def test_events_endpoint_rejects_bad_requests(client: FlaskClient, emulator_url: str) -> None:
    assert client.post("/events/s3", json={"Records": []}).status_code == 401
    assert client.post("/events/s3?token=wrong-token", json={"Records": []}).status_code == 401
    broken = client.post("/events/s3", data=b"{not json", headers=AUTH)
    assert broken.status_code == 400
    assert broken.json["error"] == "not_json"
    unknown = client.post("/events/s3", json={"hello": "world"}, headers=AUTH)
    assert unknown.status_code == 400
    assert unknown.json["error"] == "unknown_event_shape"


def test_sns_subscription_confirmation_only_for_aws_hosts(client: FlaskClient, emulator_url: str) -> None:
    hostile = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "1",
        "Token": "t",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ingest",
        "Message": "You have chosen to subscribe",
        "SubscribeURL": f"http://127.0.0.1:{free_port()}/steal",
        "Timestamp": "2026-11-24T10:00:00.000Z",
    }
    answer = client.post("/events/s3", json=hostile, headers=AUTH)
    assert answer.status_code == 200
    assert answer.json["confirmed"] == []
    assert "not fetched" in answer.json["skipped"][0]["reason"]


def test_sns_subscription_confirmed_on_allowed_host(make_settings: Any, emulator_url: str) -> None:
    from service.web import create_app

    hits: list[str] = []
    confirm_url = emulator_url + "/_emulator/health"
    host = urlparse(emulator_url).netloc
    client = create_app(make_settings(sns_extra_subscribe_hosts=host)).test_client()
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "1",
        "Token": "t",
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "SubscribeURL": confirm_url,
    }
    answer = client.post("/events/s3", json=message, headers=AUTH)
    hits.append(answer.json["confirmed"][0])
    assert hits == ["arn:aws:sns:us-east-1:1:t"]


PROBE_SECONDS = 0.5


def test_lambda_sqs_batch_reports_only_failed_messages(
    make_settings: Any, s3: Any, emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import aws_lambda

    make_settings()  # sets the environment the handler reads
    monkeypatch.setenv("NANONETS_402_PROBE_SECONDS", str(PROBE_SECONDS))
    aws_lambda._service.cache_clear()
    control = EmulatorControl(emulator_url)
    meta = put(s3, "incoming/sqs.pdf")
    good = json.dumps(s3_event(INPUT_BUCKET, "incoming/sqs.pdf", **meta))
    try:
        # Nanonets keeps failing: the object's message is retried; a message that is no event is not.
        control.faults(fail_next=[503] * 10)
        result = events_handler(sqs_batch([("m-good", good), ("m-bad", "this is not an event")]), None)
        assert result == {"batchItemFailures": [{"itemIdentifier": "m-good"}]}
        assert len(list_keys(s3, OUTPUT_BUCKET, "_state/quarantine/")) == 2  # the failure and the garbage

        # Credit used up (402): submitting stops and the message comes back later; nothing is
        # quarantined for it, and status says why.
        control.faults(fail_next=[])
        control.config(quota=0)
        result = events_handler(sqs_batch([("m-good", good)]), None)
        assert result == {"batchItemFailures": [{"itemIdentifier": "m-good"}]}
        assert len(list_keys(s3, OUTPUT_BUCKET, "_state/quarantine/")) == 2  # none added for the 402
        assert aws_lambda._service().status().quota_stopped

        # Credit is back: once the probe interval has passed, the next delivery goes through.
        control.config(quota=None)
        time.sleep(PROBE_SECONDS + 0.1)
        result = events_handler(sqs_batch([("m-good", good), ("m-again", good)]), None)
        assert result == {"batchItemFailures": []}
        assert len(submissions(emulator_url)) == 1
        assert not aws_lambda._service().status().quota_stopped
        assert len(list_keys(s3, OUTPUT_BUCKET, "_state/quarantine/")) == 1  # the 503 record is resolved
    finally:
        aws_lambda._service.cache_clear()


def test_handle_event_payload_one_path_for_every_envelope(
    service: Service, s3: Any, emulator_url: str
) -> None:
    meta = put(s3, "incoming/env.pdf")
    inner = s3_event(INPUT_BUCKET, "incoming/env.pdf", **meta)
    payloads = [
        inner,
        sns_envelope(inner),
        sqs_batch([("m", json.dumps(inner))]),
        eventbridge_event(INPUT_BUCKET, "incoming/env.pdf", **meta),
    ]
    results = [service.intake.handle(p, confirm=lambda url: None) for p in payloads]
    assert len(results[0].submitted) == 1
    assert all(len(r.submitted) == 0 and len(r.skipped) == 1 for r in results[1:])
    assert len(submissions(emulator_url)) == 1


def test_temporary_credentials_shorter_than_the_presign_ttl_are_warned_about(
    make_settings: Any, s3: Any, emulator_url: str, monkeypatch: Any, caplog: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from service.adapters.s3.objects import presign_lifetime_warning

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert presign_lifetime_warning(3600, False, None, now=now) is None
    assert presign_lifetime_warning(3600, True, now + timedelta(hours=2), now=now) is None
    short = presign_lifetime_warning(21600, True, now + timedelta(seconds=900), now=now)
    assert short is not None and "expire in 900 s" in short and "PRESIGN_TTL_SECONDS=21600" in short
    assert "possibly before" in str(presign_lifetime_warning(60, True, None, now=now))

    # Through the real client: session credentials (a token) with no known expiry still warn, once.
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3 caches credentials in its default session
    service = build(make_settings())
    put(s3, "incoming/a.pdf")
    put(s3, "incoming/b.pdf")
    with caplog.at_level("WARNING", logger="service.adapters.s3.objects"):
        service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/a.pdf"))
        service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/b.pdf"))
    warnings = [r for r in caplog.records if "temporary credentials" in r.getMessage()]
    assert len(warnings) == 1
