"""Completion events over real HTTP: a signed-webhook receiver on 127.0.0.1, and moto server's EventBridge
(a rule to an SQS queue) and SNS (an SQS subscription); the outbox parks, retries and dead-letters in
moto S3."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devtools.stack import free_port
from service.adapters.events import EventOutbox, ParkedEvent, build_outbox
from service.adapters.events.targets import (
    PATIENT,
    QUICK,
    EventBridgePublisher,
    HttpsPublisher,
    Patience,
    SnsPublisher,
    build_publisher,
)
from service.adapters.s3.bucket import StateBucket
from service.adapters.s3.objects import S3ObjectStore
from service.errors import EventDeliveryFailed
from service.models.completion import CompletionEvent, EventOutput, EventSource, event_id
from service.settings import Settings
from tests.conftest import OUTPUT_BUCKET
from tests.receiver import Receiver, webhook_receiver

SECRET = "whsec_" + base64.b64encode(b"events-signing-secret-32-bytes!!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-secret-of-32-bytes!!!").decode()
FAST = Patience(attempts=3, connect_timeout=2.0, read_timeout=5.0, backoff_factor=0.01)


def an_event(n: int = 1, event_type: Any = "document.completed") -> CompletionEvent:
    return CompletionEvent(
        id=event_id(event_type, f"file-{n}", "digest"),
        type=event_type,
        time="2026-01-01T00:00:00Z",
        route="receipts",
        source=EventSource(bucket="in", key=f"incoming/receipts/r{n}.pdf", etag="e1"),
        output=EventOutput(bucket="out", key=f"normalized/receipts/r{n}.pdf.json"),
        request_file_id=f"file-{n}",
        validation_status="passed",
        review="pending",
    )


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


def aws(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def outbox(s3: Any, quick: Any, patient: Any, max_attempts: int = 3) -> EventOutbox:
    return EventOutbox(
        StateBucket(S3ObjectStore(s3), OUTPUT_BUCKET, "_state/"),
        quick=quick,
        patient=patient,
        max_attempts=max_attempts,
    )


def parked(s3: Any) -> list[str]:
    listing = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="_state/outbox")
    return sorted(item["Key"] for item in listing.get("Contents", []))


# ---------------------------------------------------------------- HTTPS, Standard Webhooks


def test_https_event_arrives_signed_per_standard_webhooks(receiver: Receiver) -> None:
    event = an_event()
    HttpsPublisher(receiver.url, SECRET, QUICK).publish(event)

    [request] = receiver.received
    assert request.verified(SECRET) == json.loads(event.body())
    assert request.headers["webhook-id"] == event.id
    assert request.headers["Content-Type"] == "application/json"
    assert not request.verifies(OTHER_SECRET)  # the check can fail


def test_https_retries_server_errors_with_the_same_webhook_id(receiver: Receiver) -> None:
    receiver.answers = [503, 500]
    HttpsPublisher(receiver.url, SECRET, FAST).publish(an_event())

    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert all(r.verifies(SECRET) for r in receiver.received)


def test_https_failure_after_the_retry_bound_raises(receiver: Receiver) -> None:
    receiver.answers = [500] * 10
    with pytest.raises(EventDeliveryFailed) as caught:
        HttpsPublisher(receiver.url, SECRET, FAST).publish(an_event())
    assert "HTTP 500" in str(caught.value) and not caught.value.permanent
    assert len(receiver.received) == FAST.attempts


def test_https_redirect_is_a_failure_and_is_not_followed(receiver: Receiver) -> None:
    receiver.answers = [307]
    with pytest.raises(EventDeliveryFailed, match="HTTP 307"):
        HttpsPublisher(receiver.url, SECRET, FAST).publish(an_event())
    assert len(receiver.received) == 1


def test_https_gone_is_permanent(receiver: Receiver) -> None:
    receiver.answers = [410]
    with pytest.raises(EventDeliveryFailed) as caught:
        HttpsPublisher(receiver.url, SECRET, FAST).publish(an_event())
    assert caught.value.permanent


def test_https_unreachable_target_fails_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    started = time.monotonic()
    with pytest.raises(EventDeliveryFailed, match="ConnectionError"):
        HttpsPublisher(url, SECRET, QUICK).publish(an_event())
    assert time.monotonic() - started < QUICK.connect_timeout + QUICK.read_timeout


def test_query_string_of_the_target_is_kept_out_of_its_name(receiver: Receiver) -> None:
    publisher = HttpsPublisher(receiver.url + "?token=abc123", SECRET, QUICK)
    publisher.publish(an_event())
    assert "abc123" not in publisher.target
    assert receiver.received[0].path.endswith("?token=abc123")


# ---------------------------------------------------------------- EventBridge and SNS on moto


def test_eventbridge_event_reaches_a_rule_target_queue(s3_url: str) -> None:
    events, sqs = aws("events", s3_url), aws("sqs", s3_url)
    events.create_event_bus(Name="documents")
    queue_url = sqs.create_queue(QueueName="erp-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="completed-to-erp",
        EventBusName="documents",
        EventPattern=json.dumps({"source": ["nanonets-ingest"], "detail-type": ["document.completed"]}),
    )
    events.put_targets(
        Rule="completed-to-erp", EventBusName="documents", Targets=[{"Id": "erp", "Arn": queue_arn}]
    )
    event = an_event()

    EventBridgePublisher(events, "documents").publish(event)
    EventBridgePublisher(events, "documents").publish(an_event(2, "document.quarantined"))  # filtered out

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    [envelope] = [json.loads(m["Body"]) for m in messages]
    assert envelope["source"] == "nanonets-ingest" and envelope["detail-type"] == "document.completed"
    assert envelope["detail"] == json.loads(event.body())


def test_eventbridge_unknown_bus_is_a_delivery_failure(s3_url: str) -> None:
    with pytest.raises(EventDeliveryFailed):
        EventBridgePublisher(aws("events", s3_url), "no-such-bus").publish(an_event())


def test_sns_event_reaches_a_subscribed_queue_with_its_type_attribute(s3_url: str) -> None:
    sns, sqs = aws("sns", s3_url), aws("sqs", s3_url)
    topic_arn = sns.create_topic(Name="documents")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="erp-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    event = an_event(event_type="document.validation_failed")

    SnsPublisher(sns, topic_arn).publish(event)

    [message] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic_arn
    assert json.loads(envelope["Message"]) == json.loads(event.body())
    assert envelope["MessageAttributes"]["type"]["Value"] == "document.validation_failed"
    assert envelope["MessageAttributes"]["route"]["Value"] == "receipts"


def test_sns_unknown_topic_is_a_delivery_failure(s3_url: str) -> None:
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    with pytest.raises(EventDeliveryFailed):
        SnsPublisher(aws("sns", s3_url), missing).publish(an_event())


# ---------------------------------------------------------------- the outbox


def test_event_is_parked_when_the_target_is_down_and_delivered_by_reconcile(s3: Any) -> None:
    port = free_port()
    down = HttpsPublisher(f"http://127.0.0.1:{port}/hooks", SECRET, QUICK)
    box = outbox(s3, down, down)
    event = an_event()

    assert box.publish_or_park(event) == "parked"
    assert box.publish_or_park(event) == "parked"  # a repeated webhook: still one parked record
    assert parked(s3) == [f"_state/outbox/{event.id}.json"]
    record = ParkedEvent.model_validate_json(
        s3.get_object(Bucket=OUTPUT_BUCKET, Key=parked(s3)[0])["Body"].read()
    )
    assert record.attempts == 1 and record.event == event and "ConnectionError" in (record.last_error or "")

    with webhook_receiver() as receiver:
        up = HttpsPublisher(receiver.url, SECRET, FAST)
        run = outbox(s3, up, up).deliver_parked()

    assert run.delivered == 1 and parked(s3) == []
    [request] = receiver.received
    assert request.verified(SECRET) == json.loads(event.body())
    assert request.headers["webhook-id"] == event.id


def test_delivered_event_leaves_nothing_parked(s3: Any, receiver: Receiver) -> None:
    publisher = HttpsPublisher(receiver.url, SECRET, QUICK)
    assert outbox(s3, publisher, publisher).publish_or_park(an_event()) == "delivered"
    assert parked(s3) == [] and len(receiver.received) == 1


def test_event_failing_every_attempt_is_dead_lettered_with_a_log_line(
    s3: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answers = [500] * 100
    publisher = HttpsPublisher(receiver.url, SECRET, Patience(1, 2.0, 5.0))
    box = outbox(s3, publisher, publisher, max_attempts=3)
    event = an_event()
    box.publish_or_park(event)  # attempt 1

    first = box.deliver_parked()  # attempt 2
    with caplog.at_level(logging.ERROR, logger="service.adapters.events.outbox"):
        second = box.deliver_parked()  # attempt 3: the last

    assert (first.retrying, first.dead, second.dead) == (1, 0, 1)
    assert parked(s3) == [f"_state/outbox-dead/{event.id}.json"]
    dead = ParkedEvent.model_validate_json(
        s3.get_object(Bucket=OUTPUT_BUCKET, Key=parked(s3)[0])["Body"].read()
    )
    assert dead.attempts == 3 and "HTTP 500" in (dead.last_error or "")
    [line] = [r for r in caplog.records if r.getMessage() == "event dead-lettered"]
    assert line.event_id == event.id and line.attempts == 3  # type: ignore[attr-defined]
    assert box.deliver_parked().delivered == 0  # the dead letter is not retried


def test_gone_target_dead_letters_at_once(s3: Any, receiver: Receiver) -> None:
    receiver.answers = [503, 410]
    publisher = HttpsPublisher(receiver.url, SECRET, Patience(1, 2.0, 5.0))
    box = outbox(s3, publisher, publisher, max_attempts=20)
    event = an_event()
    box.publish_or_park(event)
    assert box.deliver_parked().dead == 1
    assert parked(s3) == [f"_state/outbox-dead/{event.id}.json"]


def test_outbox_run_is_bounded_by_its_limit(s3: Any) -> None:
    down = HttpsPublisher(f"http://127.0.0.1:{free_port()}/hooks", SECRET, QUICK)
    box = outbox(s3, down, down, max_attempts=50)
    for n in range(5):
        box.park(an_event(n))
    run = box.deliver_parked(limit=2)
    assert run.retrying == 2 and len(parked(s3)) == 5


def test_unreadable_parked_record_is_set_aside(s3: Any, receiver: Receiver) -> None:
    s3.put_object(Bucket=OUTPUT_BUCKET, Key="_state/outbox/evt_broken.json", Body=b"{not json")
    publisher = HttpsPublisher(receiver.url, SECRET, QUICK)
    run = outbox(s3, publisher, publisher).deliver_parked()
    assert run.unreadable == 1 and parked(s3) == ["_state/outbox-dead/evt_broken.json"]


# ---------------------------------------------------------------- built from the settings


def settings_for(s3_url: str, target: str | None, **extra: Any) -> Settings:
    return Settings(
        nanonets_api_key="k",
        nanonets_model_id="m",
        output_bucket=OUTPUT_BUCKET,
        aws_endpoint_url=s3_url,
        events_target=target,
        _env_file=None,  # type: ignore[call-arg]
        **extra,
    )


def state(s3_url: str) -> StateBucket:
    return StateBucket(S3ObjectStore(aws("s3", s3_url)), OUTPUT_BUCKET, "_state/")


def test_no_events_target_means_no_outbox(s3_url: str) -> None:
    assert build_outbox(settings_for(s3_url, None), state(s3_url)) is None


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("eventbridge:documents", EventBridgePublisher),
        ("sns:arn:aws:sns:us-east-1:123456789012:documents", SnsPublisher),
        ("https://erp.example.com/hooks", HttpsPublisher),
    ],
)
def test_events_target_picks_its_publisher(s3_url: str, target: str, kind: type) -> None:
    settings = settings_for(s3_url, target, events_signing_secret=SECRET)
    assert isinstance(build_publisher(settings, QUICK), kind)
    assert isinstance(build_publisher(settings, PATIENT), kind)
    box = build_outbox(settings, state(s3_url))
    assert box is not None and box.target.endswith(target.split(":", 1)[1])


def test_outbox_built_from_settings_delivers_to_moto_eventbridge(s3_url: str, s3: Any) -> None:
    aws("events", s3_url).create_event_bus(Name="documents")
    box = build_outbox(settings_for(s3_url, "eventbridge:documents"), state(s3_url))
    assert box is not None
    assert box.publish_or_park(an_event()) == "delivered"
    box_missing = build_outbox(settings_for(s3_url, "eventbridge:missing-bus"), state(s3_url))
    assert box_missing is not None and box_missing.publish_or_park(an_event()) == "parked"
    assert len(parked(s3)) == 1
