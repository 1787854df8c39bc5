"""service.aws_lambda's start-up: built with the cyclic collector paused, then frozen out of its way."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from service import aws_lambda


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as the test found it: on and nothing frozen (a freeze would outlive the test)."""
    assert gc.isenabled()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


def test_start_up_builds_with_the_collector_paused_then_freezes_what_it_built(collector: None) -> None:
    built = aws_lambda._start_up(lambda: ["collector on while building", gc.isenabled()])

    assert built == ["collector on while building", False]
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    # Frozen: in none of the generations later collections walk.
    assert gc.is_tracked(built) and not any(obj is built for obj in gc.get_objects())


def test_a_start_up_that_fails_turns_the_collector_back_on_and_freezes_nothing(collector: None) -> None:
    def fail() -> None:
        raise RuntimeError("settings missing")

    with pytest.raises(RuntimeError):
        aws_lambda._start_up(fail)

    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_start_up_leaves_a_collector_someone_turned_off_off(collector: None) -> None:
    gc.disable()

    aws_lambda._start_up(lambda: None)

    assert not gc.isenabled()
