"""Which of several equivalent Nanonets paths this server answers, learnt once per client (per process).

Accounts meet three generations of retrieval and approval paths (today's API reference, the OpenAPI seed's,
the guide's). A 404 alone cannot say whether the path or the file is unknown, so nothing is decided on one:
until some path has answered, a 404 (or 405) moves on to the next candidate; the first that answers is
remembered and tried first from then on, and a 404 from a path that has answered before is about the file,
so it is final. That costs one request per call once learnt, never a 404 per older path on every call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from service.errors import NanonetsError

T = TypeVar("T")
PATH_MISSING = (404, 405)  # what a server answers for a path (or verb) it does not have


class PathChoice:
    """The learnt member of one family of equivalent paths. Thread-safe: workers share the client."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._lock = threading.Lock()
        self._learnt: str | None = None

    @property
    def learnt(self) -> str | None:
        with self._lock:
            return self._learnt

    def call(self, candidates: Sequence[tuple[str, str]], request: Callable[[str], T]) -> T:
        """`request(path)` on the learnt candidate, else on each (name, path) in order until one answers."""
        if not candidates:
            raise ValueError(f"no {self.family} path to try")
        learnt = self.learnt
        known = [path for name, path in candidates if name == learnt]
        if known:
            return request(known[0])
        missing: list[NanonetsError] = []
        for name, path in candidates:
            try:
                answer = request(path)
            except NanonetsError as error:
                if error.status not in PATH_MISSING:
                    raise
                missing.append(error)
                continue
            with self._lock:
                self._learnt = name
            return answer
        raise missing[-1]  # every path said 404: the last (oldest) path's answer speaks for them
