"""Pacing, pure: a token bucket for local loops (backfill), and the pages-per-minute rules shared by every
worker and Lambda instance (the adapter stores `PacingState`; see docs/ARCHITECTURE.md, "Pacing"). Clocks
are passed in, so both are testable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field


class TokenBucket:
    def __init__(self, *, rate_per_second: float, burst: int, clock: Callable[[], float]) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self._rate = rate_per_second
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; return how long to wait before using it (0 when one was there)."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self._rate


# ---- pages per minute, shared by every worker: the pure rules (state is stored by an adapter) ----

WINDOW_SECONDS = 60.0
# A slot opens this share of a window after the grant it waits for left it: clocks and network delays
# differ between us and Nanonets, and a page counted in its window too early costs a 429 and a pause.
WINDOW_MARGIN = 1 / 60
COOLDOWN_FLOOR_SECONDS = 30.0  # Nanonets' 429 carries no Retry-After; its reference says wait 30 s
COOLDOWN_CAP_SECONDS = 600.0
QUOTA_PROBE_SECONDS = 60.0  # while stopped by a 402, one submission a minute asks whether it is over


class Grant(BaseModel):
    """Pages granted to one document (`ticket`) at a time `at` (epoch seconds); a future `at` is a
    reservation: the document was told to come back then."""

    ticket: str
    at: float
    pages: int = 1


class PacingState(BaseModel):
    """The shared pacing state of one Nanonets model."""

    grants: list[Grant] = Field(default_factory=list)
    cooldown_until: float | None = None
    backoff_level: int = 0
    quota_stopped_at: float | None = None
    quota_probe_at: float | None = None


PaceHold = Literal["rate", "cooldown", "quota"]


@dataclass(frozen=True)
class PaceDecision:
    wait_seconds: float = 0.0
    hold: PaceHold | None = None

    @property
    def granted(self) -> bool:
        return self.wait_seconds <= 0


def reserve(
    state: PacingState,
    ticket: str,
    pages: int,
    *,
    now: float,
    budget: int,
    probe_seconds: float = QUOTA_PROBE_SECONDS,
    window: float = WINDOW_SECONDS,
) -> tuple[PacingState | None, PaceDecision]:
    """Decide whether `ticket` may submit `pages` now. Returns the new state (None when unchanged; grants
    that left the window are dropped by the next write) and the decision. Grants are kept in time order
    (first come, first served), so the only window to check for a new grant at time t is the one ending
    at t."""
    grants = [g for g in state.grants if g.at > now - window * (1 + WINDOW_MARGIN)]
    probing = False
    if state.quota_stopped_at is not None:
        probe_at = state.quota_probe_at or now
        if now < probe_at:
            return None, PaceDecision(probe_at - now, "quota")
        probing = True
    if state.cooldown_until is not None and now < state.cooldown_until:
        own = next((g for g in grants if g.ticket == ticket), None)
        until = max(state.cooldown_until, own.at if own else 0.0)
        return None, PaceDecision(until - now, "cooldown")
    own = next((g for g in grants if g.ticket == ticket), None)
    if own is not None:
        wait = own.at - now
        return None, PaceDecision(max(wait, 0.0), "rate" if wait > 0 else None)
    at = _earliest_slot(grants, pages, now=now, budget=budget, window=window)
    updated = state.model_copy(update={"grants": [*grants, Grant(ticket=ticket, at=at, pages=pages)]})
    if probing and at <= now:
        updated.quota_probe_at = now + probe_seconds
    wait = at - now
    return updated, PaceDecision(max(wait, 0.0), "rate" if wait > 0 else None)


def _earliest_slot(grants: list[Grant], pages: int, *, now: float, budget: int, window: float) -> float:
    latest = max((g.at for g in grants), default=now)
    total = sum(g.pages for g in grants)
    at = max(now, latest)
    for grant in grants:  # oldest first: each one leaving the window frees its pages
        if total + pages <= budget:
            break
        total -= grant.pages
        at = max(at, grant.at + window * (1 + WINDOW_MARGIN))
    return at


def on_rate_limited(
    state: PacingState, retry_after: float | None, *, now: float, floor: float = COOLDOWN_FLOOR_SECONDS
) -> PacingState:
    """A 429 despite pacing: wait at least 30 s (or what Nanonets asked), doubling while 429s repeat, and
    push every reservation back by as long, so the waiting documents do not all return at once."""
    pause = min(max(retry_after or 0.0, floor) * 2**state.backoff_level, COOLDOWN_CAP_SECONDS)
    until = now + pause
    shifted = [g if g.at <= now else g.model_copy(update={"at": g.at + pause}) for g in state.grants]
    return state.model_copy(
        update={"cooldown_until": until, "backoff_level": state.backoff_level + 1, "grants": shifted}
    )


def on_quota_exceeded(
    state: PacingState, *, now: float, probe_seconds: float = QUOTA_PROBE_SECONDS
) -> PacingState:
    return state.model_copy(
        update={
            "quota_stopped_at": state.quota_stopped_at or now,
            "quota_probe_at": now + probe_seconds,
        }
    )


def on_accepted(state: PacingState) -> PacingState | None:
    """Nanonets took a submission: a 429 streak or a 402 stop is over. None when nothing changes."""
    if state.backoff_level == 0 and state.quota_stopped_at is None:
        return None
    return state.model_copy(
        update={"backoff_level": 0, "cooldown_until": None, "quota_stopped_at": None, "quota_probe_at": None}
    )


def backlog(state: PacingState, *, now: float) -> int:
    """Documents told to come back later (reservations still ahead)."""
    return sum(1 for g in state.grants if g.at > now)
