"""The pages-per-minute rules, pure: no window ever holds more than the budget, first come first served,
however late held-back documents come back; a 429 pause moves every reservation back, a 402 stop lets one
probe through per interval."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.pacing import (
    RESERVATION_LIFETIME_WINDOWS,
    WINDOW_MARGIN,
    WINDOW_SECONDS,
    PacingState,
    on_accepted,
    on_quota_exceeded,
    on_rate_limited,
    reserve,
)


def _grant_all(arrivals: list[tuple[float, int]], budget: int) -> PacingState:
    state = PacingState()
    for index, (now, pages) in enumerate(arrivals):
        updated, _ = reserve(state, f"t{index}", pages, now=now, budget=budget)
        state = updated or state
    return state


def _busiest_minute(spent: list[tuple[float, int]]) -> int:
    """The most pages (time, pages) inside any minute that starts at one of them."""
    return max(sum(n for at, n in spent if start <= at < start + WINDOW_SECONDS) for start, _ in spent)


@settings(max_examples=200, deadline=None)
@given(
    budget=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=80),
    pages=st.lists(st.integers(min_value=1, max_value=3), min_size=80, max_size=80),
)
def test_no_window_of_a_minute_holds_more_pages_than_the_budget(
    budget: int, gaps: list[float], pages: list[int]
) -> None:
    times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    arrivals = [(t, min(p, budget)) for t, p in zip(times, pages, strict=False)]
    state = PacingState()
    granted: list[tuple[float, int]] = []
    for index, (now, count) in enumerate(arrivals):
        updated, decision = reserve(state, f"t{index}", count, now=now, budget=budget)
        state = updated or state
        granted.append((now + decision.wait_seconds, count))
    assert _busiest_minute(granted) <= budget


@settings(max_examples=200, deadline=None)
@given(
    budget=st.integers(min_value=1, max_value=10),
    arrivals=st.lists(st.floats(min_value=0, max_value=90), min_size=1, max_size=60),
    lateness=st.lists(st.floats(min_value=0, max_value=3), min_size=1, max_size=200),
)
def test_pages_are_spent_within_the_budget_however_late_held_back_documents_come_back(
    budget: int, arrivals: list[float], lateness: list[float]
) -> None:
    """Each held-back document comes back some time after its wait (SQS delays are whole seconds; a poller
    takes a moment), as a queue would bring it; the times the pages are really spent never put more than
    the budget in any minute, which is what Nanonets counts."""
    state = PacingState()
    returns = [(at, f"t{i}") for i, at in enumerate(arrivals)]
    heapq.heapify(returns)
    spent: list[tuple[float, int]] = []
    delays = iter(lateness * 100)
    while returns:
        now, ticket = heapq.heappop(returns)
        updated, decision = reserve(state, ticket, 1, now=now, budget=budget)
        state = updated or state
        if decision.granted:
            spent.append((now, 1))
        else:
            heapq.heappush(returns, (now + decision.wait_seconds + next(delays), ticket))
    assert len(spent) == len(arrivals)
    assert _busiest_minute(spent) <= budget


def test_a_reservation_used_late_is_counted_when_used_so_the_next_one_waits_for_it() -> None:
    state = _grant_all([(0.0, 1)] * 3, budget=1)  # t0 now, t1 at 61, t2 at 122
    used, late = reserve(state, "t1", 1, now=62.5, budget=1)  # back 1.5 s after its slot
    assert late.granted and used is not None
    _, next_one = reserve(used, "t2", 1, now=122.0, budget=1)  # on time for a slot planned from 61
    assert next_one.hold == "rate" and next_one.wait_seconds == pytest.approx(1.5)
    _, after = reserve(used, "t2", 1, now=123.5, budget=1)
    assert after.granted


def test_a_document_behind_a_late_one_waits_for_it() -> None:
    state = _grant_all([(0.0, 1)] * 3, budget=1)  # t0 now, t1 at 61, t2 at 122
    _, behind = reserve(state, "t2", 1, now=122.0, budget=1)  # t1 is due and not back yet: it goes first
    assert behind.hold == "rate"
    used, late = reserve(state, "t1", 1, now=130.0, budget=1)
    assert late.granted and used is not None


def test_a_reservation_whose_document_never_returns_leaves_the_line() -> None:
    state = _grant_all([(0.0, 1)] * 3, budget=1)  # t1 (at 61) never comes back
    _, waiting = reserve(state, "t2", 1, now=122.0, budget=1)
    assert waiting.hold == "rate"
    gone = 61.0 + RESERVATION_LIFETIME_WINDOWS * WINDOW_SECONDS * (1 + WINDOW_MARGIN)
    updated, freed = reserve(state, "t2", 1, now=gone + 1, budget=1)
    assert freed.granted and updated is not None
    assert [g.ticket for g in updated.grants] == ["t2"]


def test_reservations_are_first_come_first_served_and_kept_for_their_owner() -> None:
    state = _grant_all([(0.0, 1)] * 4, budget=2)
    waits = [g.at for g in state.grants]
    assert waits[:2] == [0.0, 0.0] and waits[2] > WINDOW_SECONDS - 1 and waits[3] >= waits[2]
    unchanged, early = reserve(state, "t2", 1, now=10.0, budget=2)
    assert unchanged is None and early.wait_seconds > 0  # its own slot, not a new one
    _, on_time = reserve(state, "t2", 1, now=waits[2], budget=2)
    assert on_time.granted


def test_a_429_pauses_everyone_and_pushes_reservations_back() -> None:
    state = _grant_all([(0.0, 1)] * 3, budget=2)
    before = state.grants[2].at
    paused = on_rate_limited(state, None, now=1.0)
    assert paused.cooldown_until == 31.0 and paused.grants[2].at == before + 30
    _, decision = reserve(paused, "new", 1, now=2.0, budget=2)
    assert decision.hold == "cooldown" and decision.wait_seconds == 29.0
    again = on_rate_limited(paused, None, now=40.0)
    assert again.cooldown_until == 100.0  # doubled while 429s repeat
    cleared = on_accepted(again)
    assert cleared is not None and cleared.backoff_level == 0 and on_accepted(cleared) is None


def test_a_402_stop_lets_one_probe_through_per_interval() -> None:
    stopped = on_quota_exceeded(PacingState(), now=0.0, probe_seconds=60)
    _, held = reserve(stopped, "a", 1, now=30.0, budget=100, probe_seconds=60)
    assert held.hold == "quota" and held.wait_seconds == 30.0
    probing, probe = reserve(stopped, "a", 1, now=61.0, budget=100, probe_seconds=60)
    assert probe.granted and probing is not None
    _, next_one = reserve(probing, "b", 1, now=62.0, budget=100, probe_seconds=60)
    assert next_one.hold == "quota"  # one probe per interval until Nanonets accepts again
