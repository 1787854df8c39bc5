"""The event outbox: a completion event is delivered at least once, and publishing never blocks or loses
the document.

`publish_or_park` tries the target once, quickly; when that fails the event is parked in the state bucket
and the caller carries on (its document is written already). `deliver_parked`, called by reconcile, sends
parked events with bounded retries; an event that still fails after EVENTS_MAX_ATTEMPTS runs (or that the
target refuses for good, HTTP 410) is dead-lettered: moved to `outbox-dead/` with its last error, and
logged. Moving a dead record back under `outbox/` (attempts reset) sends it again.

    <STATE_PREFIX>outbox/<event id>.json        parked: the event, attempts, last error
    <STATE_PREFIX>outbox-dead/<event id>.json   gave up: the same record

Parking is a conditional create: the same event parked twice (a repeated webhook) is one record, and its
attempt count is not reset. The event id is stable, so a consumer seeing an event twice (parked, then
redelivered after a lost answer) de-duplicates on it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from service.adapters.events.targets import EventPublisher
from service.adapters.s3.bucket import StateBucket
from service.errors import EventDeliveryFailed
from service.models.completion import CompletionEvent
from service.models.ledger import utc_iso
from service.ports import Clock, Delivery, OutboxRun

log = logging.getLogger(__name__)


class ParkedEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: CompletionEvent
    target: str
    parked_at: str
    attempts: int = 0  # failed attempts so far, the quick one included
    last_attempt_at: str | None = None
    last_error: str | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8")


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventOutbox:
    def __init__(
        self,
        state: StateBucket,
        *,
        quick: EventPublisher,
        patient: EventPublisher,
        max_attempts: int,
        clock: Clock = utc_now,
    ) -> None:
        self._state = state
        self._parked_prefix = state.folder("outbox")
        self._dead_prefix = state.folder("outbox-dead")
        self._quick = quick
        self._patient = patient
        self._max_attempts = max_attempts
        self._clock = clock

    @property
    def target(self) -> str:
        return self._quick.target

    def parked_key(self, event_id: str) -> str:
        return f"{self._parked_prefix}{event_id}.json"

    def dead_key(self, event_id: str) -> str:
        return f"{self._dead_prefix}{event_id}.json"

    # ---- at the moment of the change ----

    def publish_or_park(self, event: CompletionEvent) -> Delivery:
        """One quick attempt; on failure the event is parked for reconcile. Raises only when the state
        bucket itself is unreachable (StorageUnavailable), so the caller's own retry covers the event."""
        try:
            self._quick.publish(event)
        except Exception as error:  # a publisher's own bug must not lose the event either: parked alike
            reason = str(error) if isinstance(error, EventDeliveryFailed) else type(error).__name__
            self.park(event, error=reason)
            log.warning(
                "event parked",
                extra={"event_id": event.id, "type": event.type, "target": self.target, "error": reason},
            )
            return "parked"
        log.info("event delivered", extra={"event_id": event.id, "type": event.type, "target": self.target})
        return "delivered"

    def park(self, event: CompletionEvent, *, error: str | None = None) -> bool:
        """Keep the event for `deliver_parked`; False when it was parked already (attempts are kept)."""
        now = utc_iso(self._clock())
        record = ParkedEvent(
            event=event,
            target=self.target,
            parked_at=now,
            attempts=0 if error is None else 1,
            last_attempt_at=None if error is None else now,
            last_error=error,
        )
        key = self.parked_key(event.id)
        return self._state.put(key, record.to_bytes(), if_none_match=True) is not None

    # ---- reconcile ----

    def deliver_parked(self, limit: int = 500) -> OutboxRun:
        """Send up to `limit` parked events, oldest key first; retry, or dead-letter the hopeless."""
        delivered = retrying = dead = unreadable = 0
        # The listing is taken whole (at most `limit` keys) before records are moved or deleted.
        for listed in list(self._state.list(self._parked_prefix, limit=limit)):
            record = self._read(listed.key)
            if record is None:
                unreadable += 1
                continue
            outcome = self._deliver_one(listed.key, record)
            delivered += outcome == "delivered"
            retrying += outcome == "retrying"
            dead += outcome == "dead"
        run = OutboxRun(delivered=delivered, retrying=retrying, dead=dead, unreadable=unreadable)
        if any(run.as_dict().values()):
            log.info("outbox run", extra={"target": self.target, **run.as_dict()})
        return run

    def _read(self, key: str) -> ParkedEvent | None:
        found = self._state.get(key)
        if found is None:
            return None  # delivered by a concurrent run since the listing
        try:
            return ParkedEvent.model_validate_json(found.body)
        except ValidationError:
            # Not ours to fix by guessing; kept aside so it neither blocks the outbox nor vanishes.
            log.error("unreadable parked event moved to the dead letters", extra={"outbox_key": key})
            self._state.put(key.replace(self._parked_prefix, self._dead_prefix, 1), found.body)
            self._state.delete(key)
            return None

    def _deliver_one(self, key: str, record: ParkedEvent) -> Literal["delivered", "retrying", "dead"]:
        event = record.event
        try:
            self._patient.publish(event)
        except EventDeliveryFailed as error:
            failed = record.model_copy(
                update={
                    "attempts": record.attempts + 1,
                    "last_attempt_at": utc_iso(self._clock()),
                    "last_error": str(error),
                    "target": self.target,
                }
            )
            if error.permanent or failed.attempts >= self._max_attempts:
                self._bury(key, failed)
                return "dead"
            self._state.put(key, failed.to_bytes())
            return "retrying"
        self._state.delete(key)
        log.info(
            "parked event delivered",
            extra={"event_id": event.id, "type": event.type, "target": self.target},
        )
        return "delivered"

    def _bury(self, key: str, record: ParkedEvent) -> None:
        self._state.put(self.dead_key(record.event.id), record.to_bytes())
        self._state.delete(key)
        log.error(
            "event dead-lettered",
            extra={
                "event_id": record.event.id,
                "type": record.event.type,
                "target": self.target,
                "attempts": record.attempts,
                "error": record.last_error,
                "dead_key": self.dead_key(record.event.id),
                "bucket": record.event.source.bucket,
                "key": record.event.source.key,
            },
        )
