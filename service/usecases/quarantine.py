"""Quarantine: an input that could not become an output is kept with a reason, never dropped."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime
from typing import Protocol

from service.logs import log_state_change
from service.models.ledger import QuarantineKind, QuarantineRecord
from service.models.source import SourceRef
from service.ports import AttentionQueue, Clock, Metrics, Quarantine


class QuarantineEvents(Protocol):
    """What a quarantine tells downstream (`usecases.downstream.Downstream`: the document.quarantined
    event), named here so an entry point may hand in one built on first use."""

    def quarantined(self, record: QuarantineRecord) -> None: ...


class Quarantiner:
    def __init__(
        self,
        store: Quarantine,
        clock: Clock,
        attention: AttentionQueue,
        metrics: Metrics,
        downstream: QuarantineEvents | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self._attention = attention  # a submission of ours that failed goes to the review console's queue
        self._metrics = metrics
        self._downstream = downstream  # the document.quarantined event

    def put(
        self,
        *,
        kind: QuarantineKind,
        code: str,
        reason: str,
        raw_key: str | None = None,
        request_file_id: str | None = None,
        source: SourceRef | None = None,
        quarantine_id: str | None = None,
        details: dict[str, object] | None = None,
    ) -> QuarantineRecord:
        now = self._clock()
        record = QuarantineRecord(
            id=quarantine_id or _new_id(kind, raw_key, source, now),
            kind=kind,
            code=code,
            reason=reason,
            received_at=now,
            raw_key=raw_key,
            request_file_id=request_file_id,
            source=source,
            details=dict(details or {}),
        )
        self.store.put(record)
        if request_file_id is not None:
            self._attention.quarantined(record)
        self._metrics.document_quarantined(code)
        log_state_change(
            "quarantined",
            at=now,
            level=logging.WARNING,
            quarantine_id=record.id,
            code=code,
            request_file_id=request_file_id,
        )
        if self._downstream is not None:
            self._downstream.quarantined(record)
        return record


def submission_quarantine_id(source: SourceRef) -> str:
    """One record per source version whose submission failed: a retry that succeeds removes it."""
    return f"submission-{source.digest[:24]}-{hashlib.sha256(source.token.encode()).hexdigest()[:12]}"


def unknown_file_quarantine_id(request_file_id: str) -> str:
    return f"unknown-{hashlib.sha256(request_file_id.encode()).hexdigest()[:24]}"


def failed_file_quarantine_id(request_file_id: str) -> str:
    return f"failed-{request_file_id}"


def _new_id(kind: QuarantineKind, raw_key: str | None, source: SourceRef | None, now: datetime) -> str:
    seed = (
        f"{raw_key}|{source.model_dump_json() if source else ''}|{now.isoformat()}|{time.perf_counter_ns()}"
    )
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{kind}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"
