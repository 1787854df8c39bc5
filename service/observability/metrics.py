"""The recorder behind the `Metrics` port: what the use cases report, in their words, becomes records of
the catalogue (spec, value, labels), so every deployment publishes the same names and labels; a sink decides
how they are published.

A sink is one of: `PrometheusSink` (gunicorn), `EmfSink` (Lambda), `NullSink` (CLI, tests). A metric is never
worth failing a document over: a sink that raises is logged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from service.observability import catalog
from service.observability.catalog import MetricSpec
from service.ports import DEFAULT_ROUTE, PacingSnapshot

log = logging.getLogger(__name__)


class Exposition(Protocol):
    """What `GET /metrics` serves: a body and its content type."""

    @property
    def body(self) -> bytes: ...

    @property
    def content_type(self) -> str: ...


class MetricsSink(Protocol):
    def record(self, spec: MetricSpec, value: float, labels: Mapping[str, str]) -> None:
        """Counters add `value`, histograms observe it, gauges are set to it."""

    def flush(self) -> None:
        """Publish what was recorded since the last flush (EMF); a no-op where publishing is continuous."""

    def exposition(self) -> Exposition | None:
        """The scrape body where this sink serves one (Prometheus), else None."""


class NullSink:
    def record(self, spec: MetricSpec, value: float, labels: Mapping[str, str]) -> None:
        return None

    def flush(self) -> None:
        return None

    def exposition(self) -> Exposition | None:
        return None


class MetricsRecorder:
    """Implements `service.ports.Metrics` for the use cases, plus what only the edges report (webhook
    answers, Nanonets calls) and publish (flush, exposition)."""

    def __init__(self, sink: MetricsSink | None = None) -> None:
        self.sink: MetricsSink = sink or NullSink()

    # ---- the use cases' port ----

    def document_submitted(self, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.DOCUMENTS_SUBMITTED, 1, route=route)

    def document_completed(self, validation: str, review: str, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.DOCUMENTS_COMPLETED, 1, route=route, validation=validation, review=review)

    def submission_to_output_seconds(self, seconds: float, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.SUBMISSION_TO_OUTPUT, max(0.0, seconds), route=route)

    def document_superseded(self, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.DOCUMENTS_SUPERSEDED, 1, route=route)

    def document_quarantined(self, reason: str, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.DOCUMENTS_QUARANTINED, 1, route=route, reason=reason)

    def pacing_wait(self, seconds: float, hold: str, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.PACING_WAIT, max(0.0, seconds), route=route, hold=hold)

    def quota_stopped(self, stopped: bool, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.PACING_QUOTA_STOPPED, 1.0 if stopped else 0.0, route=route)

    def pending(self, count: int, oldest_age_seconds: float | None, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.DOCUMENTS_PENDING, count, route=route)
        self._record(catalog.OLDEST_PENDING_AGE, oldest_age_seconds or 0.0, route=route)

    def pacing(self, snapshot: PacingSnapshot, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.PACING_BACKLOG, snapshot.backlog, route=route)
        self._record(catalog.PACING_COOLDOWN_LEFT, snapshot.cooldown_seconds_left, route=route)
        self.quota_stopped(snapshot.quota_stopped_since is not None, route=route)

    # ---- the edges ----

    def webhook_received(self, outcome: str, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.WEBHOOKS_RECEIVED, 1, route=route, outcome=outcome)

    def nanonets_call(self, endpoint: str, status: str, *, route: str = DEFAULT_ROUTE) -> None:
        self._record(catalog.NANONETS_CALLS, 1, route=route, endpoint=endpoint, status=status)

    def flush(self) -> None:
        try:
            self.sink.flush()
        except Exception:
            log.exception("metrics could not be flushed")

    def exposition(self) -> Exposition | None:
        return self.sink.exposition()

    def _record(self, spec: MetricSpec, value: float, **labels: str) -> None:
        try:
            self.sink.record(spec, value, labels)
        except Exception:
            log.exception("metric not recorded", extra={"metric": spec.name})
