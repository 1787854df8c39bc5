"""`SharedPacer`: the pages-per-minute budget of each model, shared by every gunicorn worker and Lambda
instance through one small state object per model (`pacing/<model id>.json`), updated with S3 conditional
writes (If-Match / If-None-Match). No server of our own, no lock service: a writer that loses the race
re-reads and decides again. The rules themselves are pure (`service.core.pacing`)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from service.adapters.s3.bucket import StateBucket, safe_id
from service.core import pacing
from service.core.pacing import PaceDecision, PacingState
from service.errors import StorageUnavailable
from service.ports import PacingSnapshot

log = logging.getLogger(__name__)

ATTEMPTS = 16
BACKOFF_BASE_SECONDS = 0.01
BACKOFF_CAP_SECONDS = 0.4
SHORT_WAITS = 3  # sleeps for one decision; past them the caller is told to come back


class SharedPacer:
    def __init__(
        self,
        state: StateBucket,
        budget_of: Callable[[str], int],
        *,
        pause_seconds: float = pacing.COOLDOWN_FLOOR_SECONDS,
        probe_seconds: float = pacing.QUOTA_PROBE_SECONDS,
        window_seconds: float = pacing.WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._state = state
        self._budget_of = budget_of
        self._pause_seconds = pause_seconds
        self.probe_seconds = probe_seconds
        self._window = window_seconds
        self._clock = clock
        self._sleep = sleep
        # Models seen in a 429 streak or a 402 stop by this process: only then does `accepted` write.
        self._troubled: set[str] = set()

    def _key(self, model_id: str) -> str:
        return self._state.key("pacing", safe_id(model_id) + ".json")

    def _read(self, model_id: str) -> tuple[PacingState, str | None]:
        found = self._state.get_model(self._key(model_id), PacingState)
        return found if found else (PacingState(), None)

    def _update(
        self, model_id: str, change: Callable[[PacingState], tuple[PacingState | None, PaceDecision | None]]
    ) -> tuple[PacingState, PaceDecision | None]:
        for attempt in range(ATTEMPTS):
            current, etag = self._read(model_id)
            updated, decision = change(current)
            if updated is None:
                return current, decision
            if self._state.put_model(self._key(model_id), updated, if_match=etag, if_none_match=etag is None):
                return updated, decision
            # Lost a race: re-read and decide again, after a full-jitter exponential backoff, so that
            # writers bunched together by the last round spread out instead of colliding again.
            self._sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
        raise StorageUnavailable(f"pacing state of model {model_id} kept changing under concurrent writers")

    def acquire(self, model_id: str, ticket: str, pages: int = 1) -> PaceDecision:
        """The decision for `ticket`. A wait for the budget shorter than a second is slept through here:
        a queue can bring a message back only in whole seconds, so sending it back would cost a receive
        and up to a second more."""
        for _ in range(SHORT_WAITS):
            decision = self._reserve(model_id, ticket, pages)
            if decision.hold != "rate" or decision.wait_seconds > pacing.SHORT_WAIT_SECONDS:
                return decision
            self._sleep(decision.wait_seconds)
        return self._reserve(model_id, ticket, pages)

    def _reserve(self, model_id: str, ticket: str, pages: int) -> PaceDecision:
        budget = self._budget_of(model_id)
        state, decision = self._update(
            model_id,
            lambda state: pacing.reserve(
                state,
                ticket,
                pages,
                now=self._clock(),
                budget=budget,
                probe_seconds=self.probe_seconds,
                window=self._window,
            ),
        )
        if state.backoff_level or state.quota_stopped_at is not None:
            self._troubled.add(model_id)
        assert decision is not None
        return decision

    def rate_limited(self, model_id: str, retry_after: float | None) -> None:
        self._troubled.add(model_id)
        state, _ = self._update(
            model_id,
            lambda state: (
                pacing.on_rate_limited(state, retry_after, now=self._clock(), floor=self._pause_seconds),
                None,
            ),
        )
        log.warning(
            "Nanonets answered 429: submissions of this model pause",
            extra={
                "model_id": model_id,
                "pause_seconds": round((state.cooldown_until or 0) - self._clock(), 1),
            },
        )

    def quota_exceeded(self, model_id: str) -> None:
        self._troubled.add(model_id)
        before, _ = self._read(model_id)
        self._update(
            model_id,
            lambda state: (
                pacing.on_quota_exceeded(state, now=self._clock(), probe_seconds=self.probe_seconds),
                None,
            ),
        )
        if before.quota_stopped_at is None:  # one line when the stop begins, not one per document
            log.error(
                "Nanonets answered 402 (credit used up): submissions stop until it accepts again; "
                "documents wait, none is lost",
                extra={"model_id": model_id},
            )

    def accepted(self, model_id: str) -> None:
        if model_id not in self._troubled:
            return
        self._troubled.discard(model_id)
        before, _ = self._read(model_id)
        self._update(model_id, lambda state: (pacing.on_accepted(state), None))
        if before.quota_stopped_at is not None:
            log.warning(
                "Nanonets accepts submissions again: the 402 stop is over", extra={"model_id": model_id}
            )

    def snapshot(self, model_id: str) -> PacingSnapshot:
        state, _ = self._read(model_id)
        now = self._clock()
        stopped = state.quota_stopped_at
        return PacingSnapshot(
            model_id=model_id,
            pages_per_minute=self._budget_of(model_id),
            backlog=pacing.backlog(state),
            cooldown_seconds_left=round(max((state.cooldown_until or now) - now, 0.0), 1),
            quota_stopped_since=datetime.fromtimestamp(stopped, UTC) if stopped is not None else None,
            quota_probe_seconds_left=round(max((state.quota_probe_at or now) - now, 0.0), 1),
        )
