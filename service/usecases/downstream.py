"""Downstream of the outputs: a completion event and the analytics rows for every output written, an event
for every document quarantined.

Neither ever fails or holds up the document. An event gets one quick attempt and is parked when it fails
(the outbox), rows that cannot be written are marked behind; `catch_up`, called by reconcile, delivers the
parked events and writes the rows that are behind (from the output as stored then). With no EVENTS_TARGET
there is no outbox and no event. The only error let through is the state bucket being unreachable while
parking or marking, which the caller's own retry covers (the webhook answers 503, Nanonets sends it again,
and since the ledger was not moved on, the event and rows are produced again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from service.core.routes import Routes
from service.errors import StorageUnavailable
from service.models.completion import EventOutput, completion_type, document_event, quarantine_event
from service.models.document import NormalizedDocument
from service.models.ledger import LedgerRecord, QuarantineRecord, utc_iso
from service.ports import AnalyticsDataset, Outbox, OutboxRun, StateStores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatchUp:
    """What one reconcile run delivered and wrote late."""

    events: OutboxRun
    rows_written: int = 0


class Downstream:
    def __init__(
        self,
        outbox: Outbox | None,
        analytics: AnalyticsDataset,
        stores: StateStores,
        routes: Routes,
        output_bucket: str,
    ) -> None:
        self._outbox = outbox
        self._analytics = analytics
        self._stores = stores
        self._routes = routes
        self._output_bucket = output_bucket

    # ---- at the moment of the change ----

    def output_written(self, record: LedgerRecord, document: NormalizedDocument, digest: str) -> str | None:
        """`record` as it was before this write (its review tells a review from a completion), with the
        analytics day of this write. Returns the key of the rows written (for the caller's state-change
        line), None when they are behind."""
        rows_key = self._write_rows(record, document)
        if self._outbox is None:
            return rows_key
        event = document_event(
            document,
            event_type=completion_type(document, record.review),
            content_digest=digest,
            output=EventOutput(bucket=self._output_bucket, key=record.output_key),
            route=record.route,
        )
        self._outbox.publish_or_park(event)
        return rows_key

    def quarantined(self, record: QuarantineRecord) -> None:
        """A document that will not get an output without help. Inputs with no source (a body of no known
        shape, a stranger's request_file_id) are no document a consumer knows: no event."""
        if self._outbox is None or record.source is None:
            return
        route = self._routes.route_for(record.source.key)
        event = quarantine_event(
            source=record.source,
            quarantine_id=record.id,
            time=utc_iso(record.received_at),
            route=route.name if route else None,
            request_file_id=record.request_file_id,
        )
        self._outbox.publish_or_park(event)

    def _write_rows(self, record: LedgerRecord, document: NormalizedDocument) -> str | None:
        request_file_id = record.request_file_id
        try:
            return self._analytics.write(document, record.route, record.analytics_day)
        except Exception as error:  # rows must never fail the document: reconcile writes them later
            log.warning(
                "analytics rows not written; reconcile writes them",
                extra={"request_file_id": request_file_id, "error": f"{type(error).__name__}: {error}"},
            )
            self._analytics.mark_behind(request_file_id)
            return None

    # ---- reconcile ----

    def catch_up(self, limit: int) -> CatchUp:
        """Deliver parked events; write the rows of documents whose rows are behind their output."""
        events = self._outbox.deliver_parked(limit) if self._outbox is not None else OutboxRun()
        written = 0
        for request_file_id in list(self._analytics.behind(limit)):
            written += self._rewrite_rows(request_file_id)
        return CatchUp(events=events, rows_written=written)

    def _rewrite_rows(self, request_file_id: str) -> bool:
        record = self._stores.ledger.get(request_file_id)
        stored = self._stores.outputs.read(record.output_key) if record and record.status == "done" else None
        if record is None or stored is None:
            self._analytics.caught_up(request_file_id)  # superseded, failed or gone: no rows to write
            return False
        try:
            document = NormalizedDocument.model_validate_json(stored.body)
        except ValidationError:
            log.error(
                "output is not a normalized document; its rows stay behind", extra={"key": record.output_key}
            )
            return False
        try:
            key = self._analytics.write(document, record.route, record.analytics_day)
        except StorageUnavailable as error:
            log.warning(
                "analytics rows still not written",
                extra={"request_file_id": request_file_id, "error": str(error)},
            )
            return False
        self._analytics.caught_up(request_file_id)
        log.info("analytics rows written late", extra={"request_file_id": request_file_id, "rows_key": key})
        return True
