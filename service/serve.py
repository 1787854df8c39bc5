"""How the service runs under gunicorn: one command line for `nanonets-ingest serve`, the local stack
(devtools/stack.py) and the bench, so the three cannot drift apart."""

from __future__ import annotations

import sys
from collections.abc import Sequence

APP = "service.web:create_app()"
# The deployed settings: workers from the CPU count, JSON access log, forwarded headers (gunicorn_conf.py).
DEPLOYED_CONFIG = "python:service.gunicorn_conf"


def gunicorn_argv(
    bind: str,
    *,
    workers: int | None = None,
    config: str | None = DEPLOYED_CONFIG,
    app: str = APP,
    extra: Sequence[str] = (),
) -> list[str]:
    """`python -m gunicorn ...` serving `app` on `bind` (host:port); `config` None: gunicorn's defaults."""
    argv = [sys.executable, "-m", "gunicorn", "--bind", bind]
    if config:
        argv += ["--config", config]
    if workers:
        argv += ["--workers", str(workers)]
    return [*argv, *extra, app]
