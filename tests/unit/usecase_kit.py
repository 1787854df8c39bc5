"""A service built on in-memory adapters, with a clock the test moves, for the use-case unit tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.stack import REPO
from service.adapters.events.outbox import EventOutbox
from service.adapters.s3.bucket import StateBucket
from service.bootstrap import Service, build
from service.core.routes import RouteDefaults, Routes, parse_routes_text
from service.models.source import SourceRef
from service.settings import Settings
from tests.fakes import FakeOcr, FakePublisher, InMemoryObjectStore, RecordingSink

INPUT = "in-bucket"
OUTPUT = "out-bucket"
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RECEIPTS_MODEL = "emulator-receipts"
INVOICES_MODEL = "emulator-invoices"


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
    publisher: FakePublisher | None = None
    routes: Routes | None = None

    def rebuild(self, **changes: Any) -> Service:
        """Another service (another worker, or a deployment with other settings) on the same S3, Nanonets
        and clock."""
        return _build(
            {**self.settings, **changes},
            self.objects,
            self.ocr,
            self.clock,
            self.metrics,
            self.routes,
            self.publisher,
        )

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


def make_kit(*, routes: Routes | None = None, publisher: FakePublisher | None = None, **settings: Any) -> Kit:
    """`routes`: instead of the one default route; `publisher`: the events target (none: no events)."""
    clock = Clock()
    objects = InMemoryObjectStore(clock=clock)
    ocr = FakeOcr()
    metrics = RecordingSink()
    service = _build(settings, objects, ocr, clock, metrics, routes, publisher)
    return Kit(
        service=service,
        objects=objects,
        ocr=ocr,
        clock=clock,
        metrics=metrics,
        settings=settings,
        publisher=publisher,
        routes=routes,
    )


def _build(
    settings: dict[str, Any],
    objects: InMemoryObjectStore,
    ocr: FakeOcr,
    clock: Clock,
    metrics: RecordingSink,
    routes: Routes | None,
    publisher: FakePublisher | None,
) -> Service:
    outbox = None
    if publisher is not None:
        state = StateBucket(objects, OUTPUT, "_state/")
        outbox = EventOutbox(state, quick=publisher, patient=publisher, max_attempts=3, clock=clock)
    values: dict[str, Any] = {
        "nanonets_api_key": "test-key",
        "nanonets_model_id": "model-1",
        "output_bucket": OUTPUT,
        "webhook_secret": "test-secret-123",
        **settings,
    }
    return build(
        Settings(_env_file=None, **values),
        objects=objects,
        ocr=ocr,
        routes=routes,
        outbox=outbox,
        clock=clock,
        wall_clock=clock.epoch,
        sleep=clock.sleep,
        record_wait_seconds=0.05,
        metrics=metrics,
    )


def two_routes(*, invoices_pages_per_minute: int = 75) -> Routes:
    """Receipts and invoices, two models, each with its sample rules; invoices write under erp/invoices/."""
    text = f"""
routes:
  - name: receipts
    prefix: incoming/receipts/
    model_id: {RECEIPTS_MODEL}
    rules: rules/fuel-receipts.yaml
  - name: invoices
    prefix: incoming/invoices/
    model_id: {INVOICES_MODEL}
    rules: rules/supplier-invoices.yaml
    output_prefix: erp/invoices/
    pages_per_minute: {invoices_pages_per_minute}
"""
    return parse_routes_text(text, "yaml", RouteDefaults(), base_dir=REPO / "samples")


def box(label: str, text: str, score: float = 0.9) -> dict[str, Any]:
    return {"label": label, "ocr_text": text, "score": score, "xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}


def webhook(
    file_id: str,
    metadata: dict[str, Any] | None = None,
    *,
    total: str = "45,99",
    boxes: list[dict[str, Any]] | None = None,
) -> bytes:
    """A prediction webhook of one page: a `total` box, or the `boxes` given."""
    predicted = boxes if boxes is not None else [box("total", total)]
    page: dict[str, Any] = {"request_file_id": file_id, "page": 0, "prediction": predicted}
    if metadata is not None:
        page["request_metadata"] = json.dumps(metadata)
    return json.dumps({"message": "Success", "result": [page]}).encode()
