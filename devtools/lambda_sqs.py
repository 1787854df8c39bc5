"""Lambda's SQS event source, played locally: warm "containers" and the poller that feeds them.

The queue is a real one (moto server's SQS): created with the `VisibilityTimeout` and the `RedrivePolicy`
(`maxReceiveCount`, a dead-letter queue) of `serverless.yml`, with time scaled down like the rest of a bench.
`SqsPoller` does what Lambda's poller does for `functionResponseType: ReportBatchItemFailures`: receive up to
`batchSize` messages with every attribute, hand them to a container as the Lambda SQS event, delete the
messages not listed in `batchItemFailures`. The others stay in flight and come back when their visibility
ends: the queue's own timeout, or the delay the service set with ChangeMessageVisibility. A message received
`maxReceiveCount` times moves to the DLQ on the next receive, as on AWS.

Each container is a process that imports `service.aws_lambda` once and answers events until stopped; it
also reports the ChangeMessageVisibility calls the service made while handling an event (observed on
botocore's event hooks, so only calls SQS accepted count), which is how a run tells a redelivery the service
delayed from one that waited out the queue's timeout.

Used by the bench (table 3) and the e2e paced-burst smoke test.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

from devtools.stack import AWS_TEST_ENV, REPO

SERVERLESS = REPO / "serverless.yml"
REGION = AWS_TEST_ENV["AWS_DEFAULT_REGION"]
IDLE_POLL_SECONDS = 0.05  # an empty receive waits this long before the next (moto's long poll is 1 s coarse)

Event = dict[str, Any]


# ---------------------------------------------------------------- the queue, as serverless.yml sets it


class _CloudFormationLoader(yaml.SafeLoader):
    """safe_load that reads CloudFormation's short tags (!GetAtt, !Ref, !Sub ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node)


_CloudFormationLoader.add_multi_constructor("!", _any_tag)


@dataclass(frozen=True)
class QueueSettings:
    """What Lambda's SQS event source and its queue do, from serverless.yml, with time scaled."""

    visibility_timeout: int  # seconds (SQS takes whole seconds)
    max_receive_count: int
    batch_size: int
    time_scale: float

    @classmethod
    def from_serverless(cls, time_scale: float = 1.0, path: Path = SERVERLESS) -> QueueSettings:
        """The queue's visibility timeout is scaled, but never below the events function's own timeout:
        Lambda refuses an SQS trigger whose queue would show a message again while a handler may still work
        on it, and the handler's work is not scaled."""
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader
        uploads = document["resources"]["Resources"]["UploadsQueue"]["Properties"]
        function = document["functions"]["events"]
        source = next(e["sqs"] for e in function["events"] if "sqs" in e)
        timeout = int(function.get("timeout", document["provider"].get("timeout", 6)))
        return cls(
            visibility_timeout=max(timeout, round(int(uploads["VisibilityTimeout"]) * time_scale)),
            max_receive_count=int(uploads["RedrivePolicy"]["maxReceiveCount"]),
            batch_size=int(source.get("batchSize", 10)),
            time_scale=time_scale,
        )


@dataclass(frozen=True)
class Queues:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


def sqs_client(endpoint_url: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def create_queues(sqs: Any, name: str, settings: QueueSettings) -> Queues:
    """The uploads queue and its DLQ, as serverless.yml declares them."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = _arn(sqs, dlq_url)
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(settings.visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}
            ),
        },
    )["QueueUrl"]
    return Queues(url=url, arn=_arn(sqs, url), dlq_url=dlq_url, dlq_arn=dlq_arn)


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def send_all(sqs: Any, queue_url: str, bodies: Iterable[str]) -> None:
    """Every body as one message, ten per SendMessageBatch (S3 notifications arrive one per object)."""
    pending = list(bodies)
    for start in range(0, len(pending), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(pending[start : start + 10])]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if answer.get("Failed"):
            raise RuntimeError(f"SendMessageBatch refused {len(answer['Failed'])} message(s)")


def messages_in(sqs: Any, queue_url: str) -> int:
    """Visible plus in-flight messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def lambda_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One received message as a record of the Lambda SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


# ---------------------------------------------------------------- warm containers


@dataclass(frozen=True)
class VisibilityChange:
    """A ChangeMessageVisibility the service made: the message stays hidden until at least
    `asked_at + seconds` (epoch seconds; the request left at `asked_at`)."""

    receipt_handle: str
    seconds: int
    asked_at: float


def _observe_visibility_changes(accepted: list[VisibilityChange]) -> None:
    """Append every ChangeMessageVisibility SQS accepted. Registered on boto3's default session before the
    service makes its SQS client, so that client inherits the hooks."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None

    def asked(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_visibility"] = VisibilityChange(
            params["ReceiptHandle"], int(params["VisibilityTimeout"]), time.time()
        )

    def answered(http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200 and "bench_visibility" in context:
            accepted.append(context["bench_visibility"])

    session.events.register("before-parameter-build.sqs.ChangeMessageVisibility", asked)
    session.events.register("after-call.sqs.ChangeMessageVisibility", answered)


def _lambda_container(env: dict[str, str], log_path: str, inbox: Any, outbox: Any) -> None:
    """One Lambda container: import the handler once, then answer events until told to stop."""
    with open(log_path, "ab", buffering=0) as sink:
        os.dup2(sink.fileno(), 2)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - the process's stderr for its lifetime
    os.environ.update(env)
    from service import aws_lambda

    delayed: list[VisibilityChange] = []
    _observe_visibility_changes(delayed)
    while True:
        event = inbox.get()
        if event is None:
            return
        delayed.clear()
        started = time.perf_counter()
        try:
            result = aws_lambda.events_handler(event, None)
        except Exception as error:  # a crash fails the whole batch, as on Lambda
            result = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
            result["crash"] = repr(error)
        outbox.put((result, time.perf_counter() - started, list(delayed)))


@dataclass(frozen=True)
class Invocation:
    result: dict[str, Any]
    seconds: float
    visibility_changes: list[VisibilityChange]  # the ones SQS accepted during the call


class Containers:
    """`count` warm Lambda containers (processes); `invoke(i, event)` runs one event in container i."""

    def __init__(self, env: Mapping[str, str], count: int, log_dir: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.inboxes = [context.Queue() for _ in range(count)]
        self.outboxes = [context.Queue() for _ in range(count)]
        self.processes = [
            context.Process(
                target=_lambda_container,
                args=(dict(env), str(log_dir / f"lambda-{i}.log"), self.inboxes[i], self.outboxes[i]),
                daemon=True,
            )
            for i in range(count)
        ]
        for process in self.processes:
            process.start()

    def __len__(self) -> int:
        return len(self.processes)

    def invoke(self, index: int, event: Event, timeout: float = 300.0) -> Invocation:
        self.inboxes[index].put(event)
        try:
            result, seconds, changes = self.outboxes[index].get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"Lambda container {index} stopped answering") from None
        return Invocation(result, seconds, changes)

    def warm(self, make_event: Callable[[int], Event]) -> None:
        """Each container answers one event first (say, a skipped key: no S3 or Nanonets call), so what
        follows measures warm containers."""
        for i, inbox in enumerate(self.inboxes):
            inbox.put(make_event(i))
        for outbox in self.outboxes:
            outbox.get(timeout=120)

    def stop(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


# ---------------------------------------------------------------- the poller


@dataclass
class PollStats:
    """What the poller saw. Times are seconds since `SqsPoller.run` started."""

    expected: int
    receives: int = 0  # messages received, counting every redelivery
    batches: int = 0
    redeliveries: int = 0  # receives with ApproximateReceiveCount > 1
    delayed_redeliveries: int = 0  # of those, after a ChangeMessageVisibility the service made
    visibility_changes: int = 0  # ChangeMessageVisibility calls SQS accepted
    undelayed_failures: int = 0  # messages left to the queue's own visibility timeout
    early_returns: int = 0  # delayed messages received before the delay they were given: must stay 0
    max_receive_count: int = 0
    # received again while a container still handled it: the visibility timeout was shorter than the
    # handler's run (live SQS: 360 s against a 60 s function timeout), so the message may be handled twice
    received_in_flight: int = 0
    deleted: int = 0  # distinct messages deleted
    in_dlq: int = 0
    crashes: int = 0
    completed_at: float | None = None  # the last delete, once every message is deleted or in the DLQ
    timed_out: bool = False
    receive_counts: dict[str, int] = field(default_factory=dict)  # message id -> receives


class SqsPoller:
    """One thread per container, each receiving up to `batch_size` messages and invoking its container."""

    def __init__(self, sqs_url: str, queues: Queues, containers: Containers, settings: QueueSettings) -> None:
        self._sqs_url = sqs_url
        self._queues = queues
        self._containers = containers
        self._settings = settings
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = 0.0
        self._delayed_until: dict[str, float] = {}  # message id -> when its delay ends (epoch seconds)
        self._in_flight: Counter[str] = Counter()  # message id -> containers handling it now
        self._deleted: set[str] = set()
        self._error: BaseException | None = None

    def run(self, expected: int, send: Callable[[], None], *, timeout: float) -> PollStats:
        """Start polling, call `send` (the burst), and return once `expected` messages are deleted or in the
        DLQ, or after `timeout` seconds."""
        self.stats = stats = PollStats(expected=expected)
        threads = [
            threading.Thread(target=self._poll, args=(i,), name=f"sqs-poller-{i}", daemon=True)
            for i in range(len(self._containers))
        ]
        self._started = time.monotonic()
        for thread in threads:
            thread.start()
        watcher = sqs_client(self._sqs_url)
        try:
            send()
            while not self._stop.is_set():
                in_dlq = messages_in(watcher, self._queues.dlq_url)
                with self._lock:
                    stats.in_dlq = in_dlq
                    if stats.deleted + stats.in_dlq >= expected:
                        break
                if self._error is not None:
                    raise RuntimeError("an SQS poller thread failed") from self._error
                if time.monotonic() - self._started > timeout:
                    stats.timed_out = True
                    break
                time.sleep(0.2)
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=30)
        return stats

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _poll(self, index: int) -> None:
        sqs = sqs_client(self._sqs_url)
        try:
            while not self._stop.is_set():
                messages = sqs.receive_message(
                    QueueUrl=self._queues.url,
                    MaxNumberOfMessages=self._settings.batch_size,
                    AttributeNames=["All"],
                    WaitTimeSeconds=0,
                ).get("Messages", [])
                if not messages:
                    time.sleep(IDLE_POLL_SECONDS)
                    continue
                self._count_receives(messages)
                event = {"Records": [lambda_record(m, self._queues.arn) for m in messages]}
                invocation = self._containers.invoke(index, event)
                self._settle(sqs, messages, invocation)
        except BaseException as error:  # surfaced by `run`
            self._error = error
            self._stop.set()

    def _count_receives(self, messages: list[dict[str, Any]]) -> None:
        now = time.time()
        with self._lock:
            stats = self.stats
            stats.batches += 1
            for message in messages:
                mid = message["MessageId"]
                count = int(message["Attributes"]["ApproximateReceiveCount"])
                stats.receives += 1
                stats.receive_counts[mid] = count
                stats.max_receive_count = max(stats.max_receive_count, count)
                if count > 1:
                    stats.redeliveries += 1
                stats.received_in_flight += self._in_flight[mid] > 0
                self._in_flight[mid] += 1
                delayed_until = self._delayed_until.pop(mid, None)
                if delayed_until is not None:
                    stats.delayed_redeliveries += 1
                    stats.early_returns += now < delayed_until

    def _settle(self, sqs: Any, messages: list[dict[str, Any]], invocation: Invocation) -> None:
        """Delete what the handler did not list in batchItemFailures; the rest stays in flight."""
        failed = {item["itemIdentifier"] for item in invocation.result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=self._queues.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        by_handle = {m["ReceiptHandle"]: m["MessageId"] for m in messages}
        with self._lock:
            stats = self.stats
            stats.crashes += "crash" in invocation.result
            self._in_flight.subtract(m["MessageId"] for m in messages)
            self._deleted.update(m["MessageId"] for m in done)
            stats.deleted = len(self._deleted)
            if done:
                stats.completed_at = self._elapsed()
            stats.visibility_changes += len(invocation.visibility_changes)
            delayed = set()
            for change in invocation.visibility_changes:
                mid = by_handle.get(change.receipt_handle)
                if mid is not None:
                    self._delayed_until[mid] = change.asked_at + change.seconds
                    delayed.add(mid)
            stats.undelayed_failures += len(failed - delayed)
