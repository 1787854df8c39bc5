"""SQS: bring a message back later. A document held back by pacing asks for its wait as the message's
visibility timeout, so it returns when its slot comes instead of burning receives (and reaching the DLQ)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's own ceiling


def queue_url_of(arn: str, endpoint_url: str | None) -> str:
    """`arn:aws:sqs:eu-west-1:123456789012:name` → the queue's URL (on a local endpoint when given)."""
    _, _, _, region, account, name = arn.split(":", 5)
    base = (endpoint_url or f"https://sqs.{region}.amazonaws.com").rstrip("/")
    return f"{base}/{account}/{name}"


@cache
def _client(region: str, endpoint_url: str | None) -> SQSClient:
    return boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)


def delay_messages(messages: Sequence[tuple[dict[str, Any], float]], *, endpoint_url: str | None) -> None:
    """Set each message's visibility timeout to its delay. Best effort: a failure only means the message
    comes back after the queue's own timeout, which costs one more receive, not the document."""
    for record, seconds in messages:
        arn, handle = record.get("eventSourceARN"), record.get("receiptHandle")
        if not isinstance(arn, str) or not isinstance(handle, str) or arn.count(":") < 5:
            continue
        region = arn.split(":")[3]
        try:
            _client(region, endpoint_url).change_message_visibility(
                QueueUrl=queue_url_of(arn, endpoint_url),
                ReceiptHandle=handle,
                VisibilityTimeout=min(max(math.ceil(seconds), 0), MAX_VISIBILITY_SECONDS),
            )
        except (ClientError, BotoCoreError) as error:
            log.warning("could not delay an SQS message", extra={"error": type(error).__name__})
