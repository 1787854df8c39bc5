"""Pacing, pure: a token bucket for local loops (backfill), and the pages-per-minute rules shared by every
worker and Lambda instance (the adapter stores `PacingState`; see docs/ARCHITECTURE.md, "Pacing"). Clocks
are passed in, so both are testable.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from typing import Literal, NamedTuple

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
# A wait for the budget up to this long is slept through by the worker rather than sent back to the queue:
# SQS delays a message by whole seconds only (and HTTP's Retry-After counts whole seconds too).
SHORT_WAIT_SECONDS = 1.0
# A reservation still unused this many windows after its time belongs to a document that will not come
# back (its source deleted, its message gone): it leaves the line.
RESERVATION_LIFETIME_WINDOWS = 3
COOLDOWN_FLOOR_SECONDS = 30.0  # Nanonets' 429 carries no Retry-After; its reference says wait 30 s
COOLDOWN_CAP_SECONDS = 600.0
QUOTA_PROBE_SECONDS = 60.0  # while stopped by a 402, one submission a minute asks whether it is over


class Grant(BaseModel):
    """Pages of one document (`ticket`) in the model's budget: spent at `at` (epoch seconds), or, while
    `reserved`, planned for `at`: the document was told to come back then, and keeps its place in line
    until it does."""

    ticket: str
    at: float
    pages: int = 1
    reserved: bool = False


class PacingState(BaseModel):
    """The shared pacing state of one Nanonets model."""

    grants: list[Grant] = Field(default_factory=list)
    cooldown_until: float | None = None
    backoff_level: int = 0
    quota_stopped_at: float | None = None
    quota_probe_at: float | None = None


PaceHold = Literal["rate", "cooldown", "quota"]


class PaceDecision(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
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
    that left the window are dropped by the next write) and the decision. Grants are kept in time order:
    a newcomer gets the earliest slot after every reservation made before it (first come, first served)."""
    span = window * (1 + WINDOW_MARGIN)
    grants = [g for g in state.grants if _leaves(g, span) > now]
    probing = False
    if state.quota_stopped_at is not None:
        probe_at = state.quota_probe_at or now
        if now < probe_at:
            return None, PaceDecision(probe_at - now, "quota")
        probing = True
    own = next((g for g in grants if g.ticket == ticket), None)
    if state.cooldown_until is not None and now < state.cooldown_until:
        until = max(state.cooldown_until, own.at if own else 0.0)
        return None, PaceDecision(until - now, "cooldown")
    if own is not None and own.reserved:
        if own.at > now:
            return None, PaceDecision(own.at - now, "rate")
        return _use_reservation(state, grants, own, now=now, budget=budget, span=span)
    if own is not None:  # spent already (its submission failed after): its page is counted
        return None, PaceDecision()
    at = _earliest_slot(grants, pages, now=now, budget=budget, span=span)
    grant = Grant(ticket=ticket, at=at, pages=pages, reserved=at > now)
    updated = state.model_copy(update={"grants": [*grants, grant]})
    if probing and at <= now:
        updated.quota_probe_at = now + probe_seconds
    wait = at - now
    return updated, PaceDecision(max(wait, 0.0), "rate" if wait > 0 else None)


def _use_reservation(
    state: PacingState, grants: list[Grant], own: Grant, *, now: float, budget: int, span: float
) -> tuple[PacingState | None, PaceDecision]:
    """A reservation come due: spend it now if the window ending now has room for it, counting the pages
    really spent and the reservations ahead of it in line that are due but not spent yet (their owners are
    on their way; they go first).

    The page is counted from now, not from the planned time. A held-back document comes back late (SQS
    delays are whole seconds, a poller and a busy worker take their time), and the slots after its own
    were planned from the planned time: counted then, its page would let the next window open before
    Nanonets' does (a 429, and a pause for everyone). The reservation keeps its place in line while its
    owner waits, so the documents behind it cannot take the room it waits for."""
    position = grants.index(own)
    ahead = [g for g in grants[:position] if g.reserved]
    spent = [g for g in grants if not g.reserved and g.at <= now < _leaves(g, span)]
    over = sum(g.pages for g in spent) + sum(g.pages for g in ahead) + own.pages - budget
    if over > 0:  # until enough spent pages leave; a full line ahead takes a window to go through
        freed = accumulate(g.pages for g in spent)
        leaving = next(
            (_leaves(g, span) for g, pages in zip(spent, freed, strict=True) if pages >= over), now + span
        )
        return None, PaceDecision(leaving - now, "rate")
    used = own.model_copy(update={"at": now, "reserved": False})
    line = sorted((used if g is own else g for g in grants), key=lambda g: g.at)
    return state.model_copy(update={"grants": line}), PaceDecision()


def _leaves(grant: Grant, span: float) -> float:
    """When a grant leaves the log: a spent page its window after it was spent; a reservation whose owner
    never came back, a few windows after its time."""
    return grant.at + span * (RESERVATION_LIFETIME_WINDOWS if grant.reserved else 1)


def _earliest_slot(grants: list[Grant], pages: int, *, now: float, budget: int, span: float) -> float:
    latest = max((g.at for g in grants), default=now)
    total = sum(g.pages for g in grants)
    at = max(now, latest)
    for grant in grants:  # oldest first: each one leaving the window frees its pages
        if total + pages <= budget:
            break
        total -= grant.pages
        at = max(at, grant.at + span)  # a reservation frees its pages no earlier than if spent on time
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


def backlog(state: PacingState) -> int:
    """Documents told to come back later (reservations not used yet)."""
    return sum(1 for g in state.grants if g.reserved)
