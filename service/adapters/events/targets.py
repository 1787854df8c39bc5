"""Where completion events go (EVENTS_TARGET): an EventBridge bus, an SNS topic or an HTTPS endpoint.

Each publisher sends one event or raises `EventDeliveryFailed`; none follows redirects or waits without
bound. Two flavours of each are built from the settings: `quick` (one attempt, short timeouts) for the
request that completes a document, so publishing never holds it up, and `patient` (bounded retries with
backoff: urllib3 `Retry` for HTTPS, botocore's standard retry mode for AWS) for reconcile, which delivers
what the quick attempt had to park.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from service.adapters.events.signing import secret_key, signature_headers
from service.errors import EventDeliveryFailed
from service.models.completion import CompletionEvent
from service.models.source import object_digest

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

    from service.settings import Settings

log = logging.getLogger(__name__)

EVENT_SOURCE = "nanonets-ingest"  # EventBridge `source`, SNS attribute `source`
USER_AGENT = "nanonets-ingest-events/1"
RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)


class EventPublisher(Protocol):
    """Sends one event; raises `EventDeliveryFailed` when it did not arrive."""

    target: str

    def publish(self, event: CompletionEvent) -> None: ...


@dataclass(frozen=True)
class Patience:
    """How hard one publish tries: attempts in all, and the timeouts of each."""

    attempts: int
    connect_timeout: float
    read_timeout: float
    backoff_factor: float = 0.5


QUICK = Patience(attempts=1, connect_timeout=2.0, read_timeout=3.0)
PATIENT = Patience(attempts=4, connect_timeout=5.0, read_timeout=15.0)


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus: str) -> None:
        self._client = client
        self.bus = bus
        self.target = f"eventbridge:{bus}"

    def publish(self, event: CompletionEvent) -> None:
        entry: PutEventsRequestEntryTypeDef = {
            "Source": EVENT_SOURCE,
            "DetailType": event.type,
            "Detail": event.body().decode("utf-8"),
            "EventBusName": self.bus,
        }
        try:
            answer = self._client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as error:
            raise EventDeliveryFailed(f"EventBridge put_events failed: {_aws_reason(error)}") from error
        if answer.get("FailedEntryCount"):
            failed = answer["Entries"][0]
            reason = f"{failed.get('ErrorCode', '?')}: {failed.get('ErrorMessage', '')}"
            raise EventDeliveryFailed(f"EventBridge refused the event ({reason})")


class SnsPublisher:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self.topic_arn = topic_arn
        self.target = f"sns:{topic_arn}"

    def publish(self, event: CompletionEvent) -> None:
        # Attributes let subscribers filter (a filter policy on `type` or `route`) without parsing bodies.
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "type": {"DataType": "String", "StringValue": event.type},
            "source": {"DataType": "String", "StringValue": EVENT_SOURCE},
        }
        if event.route:
            attributes["route"] = {"DataType": "String", "StringValue": event.route}
        fifo: dict[str, str] = {}
        if self.topic_arn.endswith(".fifo"):
            # One group per document keeps its events in order; SNS drops a repeat of the same id.
            group = object_digest(event.source.bucket, event.source.key)
            fifo = {"MessageGroupId": group, "MessageDeduplicationId": event.id}
        try:
            self._client.publish(
                TopicArn=self.topic_arn,
                Message=event.body().decode("utf-8"),
                MessageAttributes=attributes,
                **fifo,
            )
        except (ClientError, BotoCoreError) as error:
            raise EventDeliveryFailed(f"SNS publish failed: {_aws_reason(error)}") from error


class HttpsPublisher:
    """POSTs the event body signed per Standard Webhooks. 2xx is delivered; 410 Gone is permanent (the
    receiver says it wants no more); anything else, redirects included, is a failure to retry."""

    def __init__(
        self,
        url: str,
        signing_secret: str,
        patience: Patience,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.target = url.split("?", 1)[0]  # a query string may carry a token: never logged
        self._key = secret_key(signing_secret)
        self._timeout = (patience.connect_timeout, patience.read_timeout)
        self._clock = clock
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        retry = Retry(
            total=patience.attempts - 1,
            backoff_factor=patience.backoff_factor,
            backoff_max=10,
            status_forcelist=RETRY_STATUSES,
            allowed_methods={"POST"},  # POST is safe to repeat here: the webhook-id makes it idempotent
            respect_retry_after_header=True,
            raise_on_status=False,
            redirect=0,
        )
        self._session.mount("https://", HTTPAdapter(max_retries=retry))
        self._session.mount("http://", HTTPAdapter(max_retries=retry))

    def publish(self, event: CompletionEvent) -> None:
        body = event.body()
        headers = {
            "Content-Type": "application/json",
            **signature_headers(self._key, event.id, int(self._clock()), body),
        }
        try:
            response = self._session.post(
                self.url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            )
        except requests.RequestException as error:
            raise EventDeliveryFailed(f"POST {self.target} failed: {type(error).__name__}") from error
        if 200 <= response.status_code < 300:
            return
        raise EventDeliveryFailed(
            f"POST {self.target} answered HTTP {response.status_code}",
            permanent=response.status_code == 410,
        )


def _aws_reason(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def build_publisher(settings: Settings, patience: Patience) -> EventPublisher | None:
    """The publisher for EVENTS_TARGET, or None when no target is set (no events are sent)."""
    target = settings.events_target
    if not target:
        return None
    if target.startswith("eventbridge:"):
        events: EventBridgeClient = boto3.client(
            "events",
            **_aws_client_options(settings, patience),  # type: ignore[call-overload]
        )
        return EventBridgePublisher(events, target.removeprefix("eventbridge:"))
    if target.startswith("sns:"):
        sns: SNSClient = boto3.client("sns", **_aws_client_options(settings, patience))  # type: ignore[call-overload]
        return SnsPublisher(sns, target.removeprefix("sns:"))
    if settings.events_signing_secret is None:  # settings refuse this; kept for a Settings built by hand
        raise EventDeliveryFailed("EVENTS_SIGNING_SECRET is required for an https:// events target")
    return HttpsPublisher(target, settings.events_signing_secret.get_secret_value(), patience)


def _aws_client_options(settings: Settings, patience: Patience) -> dict[str, object]:
    config = Config(
        retries={"mode": "standard", "max_attempts": patience.attempts},
        connect_timeout=patience.connect_timeout,
        read_timeout=patience.read_timeout,
    )
    return {
        "endpoint_url": settings.aws_endpoint_url,
        "region_name": settings.aws_default_region,
        "config": config,
    }
