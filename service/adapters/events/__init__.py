"""Completion events: targets (EventBridge, SNS, signed HTTPS) and the outbox that makes delivery
at-least-once without ever holding up a document. docs/ROUTES_EVENTS_ANALYTICS.md describes both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.adapters.events.outbox import EventOutbox, ParkedEvent, utc_now
from service.adapters.events.targets import PATIENT, QUICK, EventPublisher, build_publisher

if TYPE_CHECKING:
    from service.adapters.s3.bucket import StateBucket
    from service.ports import Clock
    from service.settings import Settings

__all__ = ["EventOutbox", "EventPublisher", "ParkedEvent", "build_outbox"]


def build_outbox(settings: Settings, state: StateBucket, clock: Clock = utc_now) -> EventOutbox | None:
    """The outbox for EVENTS_TARGET in the state bucket; None when no target is set (no events)."""
    quick = build_publisher(settings, QUICK)
    patient = build_publisher(settings, PATIENT)
    if quick is None or patient is None:
        return None
    return EventOutbox(
        state, quick=quick, patient=patient, max_attempts=settings.events_max_attempts, clock=clock
    )
