"""`service.adapters.sqs` against moto server's SQS: the queue URL it derives from the Lambda record's
eventSourceARN and AWS_ENDPOINT_URL is the queue's own, and a delayed message stays hidden for its delay."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.lambda_sqs import lambda_record, sqs_client
from service.adapters.sqs import delay_messages, queue_url_of


@pytest.fixture()
def sqs(s3_url: str) -> Any:
    """moto's SQS on the session's server (reset with S3 by `s3_url`)."""
    return sqs_client(s3_url)


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    # Visibility timeout 0: a received message is visible again at once, unless something delays it.
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", [])
    return messages


def test_the_queue_url_derived_from_the_arn_is_motos_own(sqs: Any, s3_url: str) -> None:
    url, arn = _queue(sqs, "uploads")
    assert queue_url_of(arn, s3_url) == url


def test_a_delayed_message_stays_hidden_and_an_undelayed_one_comes_back(sqs: Any, s3_url: str) -> None:
    url, arn = _queue(sqs, "uploads")
    sqs.send_message(QueueUrl=url, MessageBody="held back")
    sqs.send_message(QueueUrl=url, MessageBody="not delayed")
    received = _receive(sqs, url)
    assert sorted(m["Body"] for m in received) == ["held back", "not delayed"]
    held = next(m for m in received if m["Body"] == "held back")

    delay_messages([(lambda_record(held, arn), 600.0)], endpoint_url=s3_url)

    again = _receive(sqs, url)
    assert [m["Body"] for m in again] == ["not delayed"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
