"""service.models.events: S3 notifications in every envelope → ObjectEvent / SkippedEvent / ... items."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.events import eventbridge_event, s3_event, s3_record, sns_envelope, sqs_batch
from service.errors import PayloadRejected
from service.models.events import (
    InvalidMessage,
    ObjectEvent,
    SkippedEvent,
    SubscriptionConfirmation,
    is_aws_sns_subscribe_url,
    unwrap_event,
)

SNS_ID = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2026-11-24T10:00:00.000Z",
    "Bucket": "ingest-in",
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


def items(payload: Any) -> list[Any]:
    return unwrap_event(payload).items


def with_raw_key(raw_key: str, **kw: Any) -> dict[str, Any]:
    event = s3_event("in", "placeholder", **kw)
    event["Records"][0]["s3"]["object"]["key"] = raw_key
    return event


def lambda_sns_record(message: dict[str, Any], message_id: str = "lambda-sns-1") -> dict[str, Any]:
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:ingest:sub",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "Message": json.dumps(message),
            "Subject": "x",
        },
    }


# -------------------------------------------------------------------------------------- S3 direct


def test_direct_s3_notification() -> None:
    [event] = items(s3_event("in", "incoming/a.pdf", size=99, etag='"abc"', version_id="v1"))
    assert event == ObjectEvent(
        bucket="in",
        key="incoming/a.pdf",
        size=99,
        etag="abc",
        version_id="v1",
        sequencer="0A1B2C",
        event_name="ObjectCreated:Put",
        message_id=None,
    )


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("incoming/a+b%20c.pdf", "incoming/a b c.pdf"),
        ("incoming/recibo+1.pdf", "incoming/recibo 1.pdf"),
        ("incoming/a%2Bb.pdf", "incoming/a+b.pdf"),
        ("incoming/c%2B%2B+notes.pdf", "incoming/c++ notes.pdf"),
        ("incoming/ni%C3%B1o+%E2%82%AC.pdf", "incoming/niño €.pdf"),
        ("incoming/dt%3D2024-03-05/a.pdf", "incoming/dt=2024-03-05/a.pdf"),
        ("incoming/50%25.pdf", "incoming/50%.pdf"),
        ("incoming%2Fa.pdf", "incoming/a.pdf"),
        ("incoming/(1)+copy.pdf", "incoming/(1) copy.pdf"),
    ],
)
def test_keys_are_decoded_as_s3_encodes_them(raw: str, decoded: str) -> None:
    [event] = items(with_raw_key(raw))
    assert isinstance(event, ObjectEvent) and event.key == decoded


@pytest.mark.parametrize(
    "key", ["incoming/a+b c.pdf", "incoming/100% €/ñ (1).pdf", "incoming/a%20b.pdf", "incoming/x?y#z.pdf"]
)
def test_support_builder_keys_survive_the_round_trip(key: str) -> None:
    [event] = items(s3_event("in", key))
    assert isinstance(event, ObjectEvent) and event.key == key


@pytest.mark.parametrize(
    "name",
    [
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
    ],
)
def test_every_object_created_kind_is_an_object_event(name: str) -> None:
    [event] = items(s3_event("in", "incoming/a.pdf", event=name))
    assert isinstance(event, ObjectEvent) and event.event_name == name


@pytest.mark.parametrize(
    "name",
    [
        "ObjectRemoved:Delete",
        "ObjectRemoved:DeleteMarkerCreated",
        "LifecycleExpiration:Delete",
        "ObjectRestore:Completed",
        "ObjectTagging:Put",
        "s3:ObjectCreated:Put",  # not how S3 names it in records
    ],
)
def test_other_events_are_skipped_with_a_reason(name: str) -> None:
    [event] = items(s3_event("in", "incoming/a+b.pdf", event=name))
    assert isinstance(event, SkippedEvent)
    assert event.key == "incoming/a+b.pdf" and name in event.reason


def test_several_records_keep_their_order() -> None:
    payload = {"Records": [s3_record("in", f"incoming/{i}.pdf") for i in range(5)]}
    assert [e.key for e in items(payload)] == [f"incoming/{i}.pdf" for i in range(5)]


def test_s3_test_event_is_skipped() -> None:
    assert items(TEST_EVENT) == [SkippedEvent(key=None, reason="s3:TestEvent", message_id=None)]


def test_missing_optional_object_fields() -> None:
    event = s3_event("in", "incoming/a.pdf")
    obj = event["Records"][0]["s3"]["object"]
    for name in ("size", "eTag", "sequencer"):
        del obj[name]
    [parsed] = items(event)
    assert isinstance(parsed, ObjectEvent) and (parsed.size, parsed.etag, parsed.sequencer) == (
        None,
        None,
        None,
    )


# -------------------------------------------------------------------------------------------- SNS


def test_sns_http_notification() -> None:
    [event] = items(sns_envelope(s3_event("in", "incoming/a b.pdf")))
    assert isinstance(event, ObjectEvent)
    assert (event.bucket, event.key, event.message_id) == ("in", "incoming/a b.pdf", SNS_ID)


def test_sns_wrapped_test_event() -> None:
    assert items(sns_envelope(TEST_EVENT)) == [
        SkippedEvent(key=None, reason="s3:TestEvent", message_id=SNS_ID)
    ]


def test_sns_subscription_confirmation() -> None:
    payload = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m-1",
        "Token": "tok",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ingest",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
    }
    assert items(payload) == [
        SubscriptionConfirmation(
            topic_arn="arn:aws:sns:us-east-1:123456789012:ingest",
            subscribe_url="https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
            token="tok",
            message_id="m-1",
        )
    ]


def test_sns_subscription_confirmation_without_url_is_invalid() -> None:
    [item] = items({"Type": "SubscriptionConfirmation", "MessageId": "m-1"})
    assert isinstance(item, InvalidMessage) and item.message_id == "m-1" and "SubscribeURL" in item.reason


def test_sns_unsubscribe_confirmation_is_skipped() -> None:
    [item] = items({"Type": "UnsubscribeConfirmation", "MessageId": "m-1"})
    assert isinstance(item, SkippedEvent) and item.key is None


@pytest.mark.parametrize("message", ["not json", json.dumps({"hello": 1}), json.dumps([1]), None, 5])
def test_sns_notification_with_a_foreign_message_is_invalid(message: Any) -> None:
    envelope = sns_envelope({})
    envelope["Message"] = message
    [item] = items(envelope)
    assert isinstance(item, InvalidMessage) and item.message_id == SNS_ID


def test_lambda_sns_records() -> None:
    payload = {
        "Records": [
            lambda_sns_record(s3_event("in", "incoming/a.pdf"), "s1"),
            lambda_sns_record(TEST_EVENT, "s2"),
        ]
    }
    first, second = items(payload)
    assert isinstance(first, ObjectEvent) and first.message_id == "s1" and first.key == "incoming/a.pdf"
    assert second == SkippedEvent(key=None, reason="s3:TestEvent", message_id="s2")


# -------------------------------------------------------------------------------------------- SQS


def test_sqs_batch_keeps_message_ids_for_partial_failures() -> None:
    payload = sqs_batch(
        [
            ("m1", json.dumps(s3_event("in", "incoming/a.pdf"))),
            ("m2", "not json"),
            ("m3", json.dumps(sns_envelope(s3_event("in", "incoming/b+c.pdf")))),
            ("m4", json.dumps({"unrelated": True})),
            ("m5", json.dumps(TEST_EVENT)),
            ("m6", json.dumps(s3_event("in", "incoming/d.pdf", event="ObjectRemoved:Delete"))),
        ]
    )
    got = items(payload)
    assert [(type(i).__name__, i.message_id) for i in got] == [
        ("ObjectEvent", "m1"),
        ("InvalidMessage", "m2"),
        ("ObjectEvent", "m3"),  # the SQS id, not the SNS one: that is what batchItemFailures needs
        ("InvalidMessage", "m4"),
        ("SkippedEvent", "m5"),
        ("SkippedEvent", "m6"),
    ]
    assert got[2].key == "incoming/b+c.pdf"


def test_sqs_message_with_several_records() -> None:
    body = json.dumps({"Records": [s3_record("in", "incoming/a.pdf"), s3_record("in", "incoming/b.pdf")]})
    got = items(sqs_batch([("m1", body)]))
    assert [(i.key, i.message_id) for i in got] == [("incoming/a.pdf", "m1"), ("incoming/b.pdf", "m1")]


def test_sqs_body_not_a_string_is_invalid() -> None:
    payload = sqs_batch([("m1", "x")])
    payload["Records"][0]["body"] = {"Records": []}
    assert items(payload) == [InvalidMessage("m1", "SQS message body is not JSON", '{"Records": []}')]


def test_sqs_eventbridge_body() -> None:
    [event] = items(sqs_batch([("m1", json.dumps(eventbridge_event("in", "incoming/a.pdf")))]))
    assert isinstance(event, ObjectEvent) and event.message_id == "m1"


# ------------------------------------------------------------------------------------- EventBridge


def test_eventbridge_object_created() -> None:
    [event] = items(eventbridge_event("in", "incoming/recibo 1.pdf", size=7, etag='"e1"'))
    assert event == ObjectEvent(
        bucket="in",
        key="incoming/recibo 1.pdf",
        size=7,
        etag="e1",
        version_id=None,
        sequencer="00617F08299329D189",
        event_name="Object Created",
        message_id=None,
    )


def test_eventbridge_keys_are_taken_as_they_are() -> None:
    [event] = items(eventbridge_event("in", "incoming/a+b%20c.pdf"))
    assert isinstance(event, ObjectEvent) and event.key == "incoming/a+b%20c.pdf"


def test_eventbridge_version_id() -> None:
    payload = eventbridge_event("in", "incoming/a.pdf")
    payload["detail"]["object"]["version-id"] = "v9"
    [event] = items(payload)
    assert isinstance(event, ObjectEvent) and event.version_id == "v9"


@pytest.mark.parametrize("detail_type", ["Object Deleted", "Object Restore Completed", "Object Tags Added"])
def test_eventbridge_other_types_are_skipped(detail_type: str) -> None:
    payload = eventbridge_event("in", "incoming/a.pdf")
    payload["detail-type"] = detail_type
    [item] = items(payload)
    assert isinstance(item, SkippedEvent) and item.key == "incoming/a.pdf" and detail_type in item.reason


@pytest.mark.parametrize(
    "broken", [lambda d: d.pop("bucket"), lambda d: d["object"].pop("key"), lambda d: d.clear()]
)
def test_eventbridge_without_bucket_or_key_is_invalid(broken: Any) -> None:
    payload = eventbridge_event("in", "incoming/a.pdf")
    broken(payload["detail"])
    [item] = items(payload)
    assert isinstance(item, InvalidMessage)


# ----------------------------------------------------------------------------------------- garbage


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "Records",
        42,
        {},
        {"Records": "x"},
        {"Records": None},
        {"Type": "Whatever"},
        {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}},
        {"detail-type": "Object Created", "detail": {}},  # no source
    ],
)
def test_unknown_shapes_are_rejected(payload: Any) -> None:
    with pytest.raises(PayloadRejected) as caught:
        unwrap_event(payload)
    assert caught.value.code == "unknown_event_shape"


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        (1, "not an object"),
        ("x", "not an object"),
        ({"foo": 1}, "neither S3, SNS nor SQS"),
        ({"s3": {}, "eventName": "ObjectCreated:Put"}, "S3 record without s3.bucket"),
        ({"s3": {"bucket": {"name": "b"}, "object": {}}, "eventName": "ObjectCreated:Put"}, "s3.object.key"),
        ({"s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}, "eventName"),
        (
            {
                "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": "big"}},
                "eventName": "ObjectCreated:Put",
            },
            "size",
        ),
        ({"EventSource": "aws:sns", "Sns": {"Type": "Weird"}}, "SNS record of no known type"),
    ],
)
def test_bad_records_are_invalid_messages_not_errors(record: Any, fragment: str) -> None:
    payload = {"Records": [record, s3_record("in", "incoming/ok.pdf")]}
    bad, good = items(payload)
    assert isinstance(bad, InvalidMessage) and fragment in bad.reason
    assert isinstance(good, ObjectEvent)  # one bad record does not sink the others


def test_empty_records_is_nothing_to_do() -> None:
    assert items({"Records": []}) == []


def test_envelopes_nested_too_deep_are_invalid() -> None:
    payload: dict[str, Any] = s3_event("in", "incoming/a.pdf")
    for _ in range(6):
        payload = sns_envelope(payload)
    [item] = items(payload)
    assert isinstance(item, InvalidMessage)


def test_real_nesting_depth_is_supported() -> None:
    """S3 in SNS in SQS, the deepest real nesting."""
    payload = sqs_batch([("m1", json.dumps(sns_envelope(s3_event("in", "incoming/a.pdf"))))])
    [event] = items(payload)
    assert isinstance(event, ObjectEvent)


def test_deeply_nested_json_in_a_message_is_invalid_not_a_crash() -> None:
    envelope = sns_envelope({})
    envelope["Message"] = "[" * 100_000 + "]" * 100_000
    [item] = items(envelope)
    assert isinstance(item, InvalidMessage)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=15,
)
SHAPED = st.recursive(
    st.none()
    | st.integers(-1, 5)
    | st.sampled_from(
        [
            "aws:sqs",
            "aws:sns",
            "Notification",
            "aws.s3",
            "Object Created",
            "ObjectCreated:Put",
            "{}",
            '{"Records": []}',
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Records",
                    "eventSource",
                    "EventSource",
                    "Sns",
                    "Type",
                    "Message",
                    "body",
                    "messageId",
                    "s3",
                    "bucket",
                    "object",
                    "key",
                    "name",
                    "eventName",
                    "source",
                    "detail-type",
                    "detail",
                    "Event",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(JSON, SHAPED))
def test_any_payload_unwraps_or_is_rejected(payload: Any) -> None:
    try:
        result = unwrap_event(payload)
    except PayloadRejected as rejected:
        assert rejected.code == "unknown_event_shape"
        return
    for item in result.items:
        assert isinstance(item, ObjectEvent | SkippedEvent | SubscriptionConfirmation | InvalidMessage)


# ------------------------------------------------------------------------------- SNS SubscribeURL


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x", True),
        ("https://sns.eu-west-1.amazonaws.com:443/?Action=ConfirmSubscription", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription", True),
        ("http://sns.us-east-1.amazonaws.com/", False),
        ("https://sns.us-east-1.amazonaws.com.evil.com/", False),
        ("https://evil.com/sns.us-east-1.amazonaws.com", False),
        ("https://user:pw@sns.us-east-1.amazonaws.com/", False),
        ("https://sns.us-east-1.amazonaws.com:8443/", False),
        ("https://169.254.169.254/latest/meta-data/", False),
        ("https://sns.us-east-1.amazonaws.com:bad/", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_only_aws_sns_subscribe_urls_may_be_fetched(url: str, allowed: bool) -> None:
    assert is_aws_sns_subscribe_url(url) is allowed


def test_extra_subscribe_hosts_for_tests() -> None:
    assert is_aws_sns_subscribe_url("http://127.0.0.1:5005/confirm", ["127.0.0.1:5005"]) is True
    assert is_aws_sns_subscribe_url("http://127.0.0.1:5006/confirm", ["127.0.0.1:5005"]) is False
    assert is_aws_sns_subscribe_url("file://127.0.0.1:5005/etc/passwd", ["127.0.0.1:5005"]) is False
