"""Two deployments (two gunicorn services, separate processes) get the same S3 event and then the same
webhook at the same instant, as happens when S3 notifies twice or Nanonets retries a slow webhook.
One Nanonets submission and one output per document, decided by S3 conditional writes alone."""

from __future__ import annotations

import collections
import functools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.events import s3_event
from devtools.stack import TEST_SECRET, Process
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.e2e.conftest import Stack, start_service
from tests.support import list_keys

pytestmark = pytest.mark.e2e
AUTH = {"X-Webhook-Token": TEST_SECRET}
DOCUMENTS = 8


@pytest.fixture(scope="module")
def second_service(
    moto_server: Process, emulator_server: Process, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    process = start_service(moto_server, emulator_server, tmp_path_factory.mktemp("second"))
    yield process
    process.stop()


def post(url: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(url + path, json=body, headers=AUTH, timeout=60)


def at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(calls))
    answers: list[requests.Response | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(answer is not None for answer in answers)
    return [a for a in answers if a is not None]


def test_same_event_and_same_webhook_at_once_give_one_submission_and_one_output(
    stack: Stack, service: Process, second_service: Process, tmp_path: Path
) -> None:
    stack.emulator.config(webhooks_enabled=False)
    urls = [service.url, second_service.url]
    file_ids: dict[str, str] = {}
    for index in range(DOCUMENTS):
        key = f"incoming/race-{index}.pdf"
        body = document_bytes(filler=f"race-{index}".encode())
        etag = stack.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
        event = s3_event(INPUT_BUCKET, key, size=len(body), etag=etag)
        # Four deliveries, two per deployment.
        answers = at_once([functools.partial(post, url, "/events/s3", event) for url in urls * 2])
        assert all(a.status_code == 200 for a in answers)
        submitted = [item for a in answers for item in a.json()["submitted"]]
        assert len(submitted) == 1, [a.json() for a in answers]
        file_ids[key] = submitted[0]["request_file_id"]

    files = EmulatorControl(stack.emulator.base_url).files()
    per_key = collections.Counter(json.loads(f["request_metadata"])["key"] for f in files)
    assert per_key == {key: 1 for key in file_ids}

    stack.emulator.flush()
    for file_id in file_ids.values():
        webhook = {"result": [{"request_file_id": file_id, "page": 0, "prediction": RECEIPT_PAGES[0]}]}
        answers = at_once([functools.partial(post, url, "/webhooks/nanonets", webhook) for url in urls * 2])
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        outcomes = sorted(a.json()["files"][0]["outcome"] for a in answers)
        assert outcomes.count("written") >= 1 and set(outcomes) <= {"written", "unchanged"}

    assert sorted(list_keys(stack.s3, OUTPUT_BUCKET, "normalized/")) == sorted(
        "normalized/" + key.removeprefix("incoming/") + ".json" for key in file_ids
    )
    for file_id in file_ids.values():
        record = json.loads(
            stack.s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"_state/files/{file_id}.json")["Body"].read()
        )
        assert record["status"] == "done"
    written = _output_writes(service) + _output_writes(second_service)
    assert all(count == 1 for count in collections.Counter(written).values()), collections.Counter(written)


def _output_writes(process: Process) -> list[Any]:
    lines = [json.loads(line) for line in process.log().splitlines() if line.startswith("{")]
    return [line["output_key"] for line in lines if line.get("message") == "output written"]
