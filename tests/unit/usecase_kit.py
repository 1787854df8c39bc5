"""A service built on in-memory adapters, with a clock the test moves, for the use-case unit tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from service.bootstrap import Service, build
from service.models.source import SourceRef
from service.settings import Settings
from tests.fakes import FakeOcr, InMemoryObjectStore, RecordingSink

INPUT = "in-bucket"
OUTPUT = "out-bucket"
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


@dataclass
class Kit:
    service: Service
    objects: InMemoryObjectStore
    ocr: FakeOcr
    clock: Clock
    metrics: RecordingSink
    settings: dict[str, Any] = field(default_factory=dict)

    def rebuild(self, **changes: Any) -> Service:
        """Another service (another worker, or a deployment with other settings) on the same S3, Nanonets
        and clock."""
        return _build({**self.settings, **changes}, self.objects, self.ocr, self.clock, self.metrics)

    def drop(self, key: str, body: bytes = b"%PDF-1.4 a receipt") -> SourceRef:
        self.objects.put(INPUT, key, body)
        return SourceRef(bucket=INPUT, key=key)

    def outputs(self) -> list[str]:
        return self.objects.keys(OUTPUT, "normalized/")

    def output(self, key: str) -> dict[str, Any]:
        found = self.objects.get(OUTPUT, key)
        assert found is not None, key
        document: dict[str, Any] = json.loads(found.body)
        return document

    def state(self, folder: str) -> list[str]:
        return self.objects.keys(OUTPUT, "_state/" + folder)


def make_kit(**settings: Any) -> Kit:
    clock = Clock()
    objects = InMemoryObjectStore(clock=clock)
    ocr = FakeOcr()
    metrics = RecordingSink()
    service = _build(settings, objects, ocr, clock, metrics)
    return Kit(service=service, objects=objects, ocr=ocr, clock=clock, metrics=metrics, settings=settings)


def _build(
    settings: dict[str, Any], objects: InMemoryObjectStore, ocr: FakeOcr, clock: Clock, metrics: RecordingSink
) -> Service:
    values: dict[str, Any] = {
        "nanonets_api_key": "test-key",
        "nanonets_model_id": "model-1",
        "output_bucket": OUTPUT,
        "webhook_secret": "test-secret-123",
        **settings,
    }
    return build(
        Settings(_env_file=None, **values),  # type: ignore[call-arg]
        objects=objects,
        ocr=ocr,
        clock=clock,
        wall_clock=clock.epoch,
        sleep=clock.sleep,
        record_wait_seconds=0.05,
        metrics=metrics,
    )


def box(label: str, text: str, score: float = 0.9) -> dict[str, Any]:
    return {"label": label, "ocr_text": text, "score": score, "xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}


def webhook(file_id: str, metadata: dict[str, Any] | None = None, *, total: str = "45,99") -> bytes:
    page: dict[str, Any] = {"request_file_id": file_id, "page": 0, "prediction": [box("total", total)]}
    if metadata is not None:
        page["request_metadata"] = json.dumps(metadata)
    return json.dumps({"message": "Success", "result": [page]}).encode()
