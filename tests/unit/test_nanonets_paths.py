"""PathChoice: which of several equivalent paths a server answers, learnt from the first answer."""

from __future__ import annotations

import pytest

from service.adapters.nanonets_paths import PathChoice
from service.errors import NanonetsError, NanonetsUnavailable

CANDIDATES = [("live", "/a"), ("seed", "/b"), ("guide", "/c")]


class Server:
    """Answers the paths it has; records every request."""

    def __init__(self, has: set[str], missing_status: int = 404) -> None:
        self.has = has
        self.missing_status = missing_status
        self.requests: list[str] = []

    def __call__(self, path: str) -> str:
        self.requests.append(path)
        if path not in self.has:
            raise NanonetsError("Not Found", status=self.missing_status, endpoint=path)
        return path


@pytest.mark.parametrize("missing_status", [404, 405])
def test_the_first_path_that_answers_is_learnt_and_asked_alone_afterwards(missing_status: int) -> None:
    choice, server = PathChoice("file"), Server({"/c"}, missing_status)
    assert choice.call(CANDIDATES, server) == "/c"
    assert choice.call(CANDIDATES, server) == "/c"
    assert server.requests == ["/a", "/b", "/c", "/c"]
    assert choice.learnt == "guide"


def test_a_404_from_the_learnt_path_is_final() -> None:
    choice = PathChoice("file")
    choice.call(CANDIDATES, Server({"/b"}))
    gone = Server(set())
    with pytest.raises(NanonetsError) as caught:
        choice.call(CANDIDATES, gone)
    assert (caught.value.status, gone.requests) == (404, ["/b"])


def test_when_no_path_answers_the_last_404_is_raised_and_nothing_is_learnt() -> None:
    choice, server = PathChoice("file"), Server(set())
    with pytest.raises(NanonetsError) as caught:
        choice.call(CANDIDATES, server)
    assert caught.value.endpoint == "/c"
    assert choice.learnt is None


def test_other_errors_stop_the_walk_without_learning() -> None:
    choice = PathChoice("file")

    def down(path: str) -> str:
        raise NanonetsUnavailable("503", status=503, endpoint=path)

    with pytest.raises(NanonetsUnavailable):
        choice.call(CANDIDATES, down)
    assert choice.learnt is None


def test_a_learnt_path_missing_from_this_calls_candidates_is_skipped() -> None:
    choice = PathChoice("page")
    choice.call(CANDIDATES, Server({"/b"}))
    server = Server({"/a"})
    assert choice.call([("live", "/a"), ("guide", "/c")], server) == "/a"  # e.g. no file id for the seed path
    assert server.requests == ["/a"]
