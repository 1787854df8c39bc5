"""All the emulator's state, in one object the app factory builds (no module-level state): files, the call
log, faults, the page budget, background work. Views reach it through `current_state()`."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

from flask import current_app

from devtools.emulator.config import SHAPES, EmulatorConfig
from devtools.emulator.faults import FaultInjector
from devtools.emulator.limits import PageLimiter
from devtools.emulator.predictions import Pages
from devtools.emulator.webhooks import Background

EXTENSION = "emulator"


@dataclass
class FileRecord:
    request_file_id: str
    model_id: str
    source: str  # the URL or upload name it came from
    name: str  # the file name Nanonets shows (`input`, `original_file_name`)
    request_metadata: str | None
    created_day: int
    content: bytes = field(default=b"", repr=False)  # kept so RetryPrediction can predict again
    pages: Pages | None = None  # None while processing
    moderated: Pages | None = None  # the reviewed boxes, page by page; None until someone reviewed it
    approval_status: str = "pending"  # pending, approved, rejected
    state: str = "processing"
    webhooks_sent: int = 0
    predictions: int = 0
    updated_at: float = field(default_factory=time.time)

    @property
    def approved(self) -> bool:
        return self.approval_status == "approved"

    @property
    def rejected(self) -> bool:
        return self.approval_status == "rejected"

    def summary(self) -> dict[str, Any]:
        return {
            "request_file_id": self.request_file_id,
            "state": self.state,
            "source": self.source,
            "request_metadata": self.request_metadata,
            "pages": None if self.pages is None else len(self.pages),
            "webhooks_sent": self.webhooks_sent,
            "predictions": self.predictions,
            "approved": self.approved,
            "rejected": self.rejected,
            "approval_status": self.approval_status,
            "moderated": self.moderated is not None,
        }


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.initial = copy.deepcopy(config)
        self.config = config
        self.lock = threading.Lock()
        self.files: dict[str, FileRecord] = {}
        self.calls: list[dict[str, Any]] = []
        self.faults = FaultInjector()
        self.limiter = PageLimiter()  # under `lock`
        self.background = Background()
        self._shape_counter = itertools.count()

    def reset(self) -> None:
        self.background.cancel_pending()
        self.background.wait_idle(10)
        with self.lock:
            self.config = copy.deepcopy(self.initial)
            self.files.clear()
            self.calls.clear()
            self.limiter.reset()
        self.faults.reset()

    def next_shape(self) -> str:
        shape = self.config.webhook_shape
        if shape == "mixed":
            return SHAPES[next(self._shape_counter) % len(SHAPES)]
        return shape

    def add(self, record: FileRecord) -> None:
        with self.lock:
            self.files[record.request_file_id] = record

    def get(self, file_id: str) -> FileRecord | None:
        with self.lock:
            return self.files.get(file_id)


def current_state() -> EmulatorState:
    return cast(EmulatorState, current_app.extensions[EXTENSION])
