"""The gunicorn master's part of prometheus-client's multiprocess mode (called from service/gunicorn_conf.py).

prometheus-client chooses file-backed samples when it is first imported, if PROMETHEUS_MULTIPROC_DIR is
set; workers forked from a master that imported it earlier would inherit in-memory samples. So it is
imported here only once the variable is set.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_CREATED_MARK = ".created-by-nanonets-ingest"


def prepare_multiprocess_dir(environ: MutableMapping[str, str]) -> Path:
    """A clean directory for this server's samples, named in `environ` for the workers to inherit.

    Files left by an earlier run would be added to this one's counts, so a directory given by the operator
    is emptied of them, and without one a fresh temporary directory is made."""
    given = environ.get(MULTIPROC_ENV)
    if not given:
        directory = Path(tempfile.mkdtemp(prefix="nanonets-ingest-metrics-"))
        (directory / _CREATED_MARK).touch()
        environ[MULTIPROC_ENV] = str(directory)
        return directory
    directory = Path(given)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def start_multiprocess_mode(environ: MutableMapping[str, str]) -> Path:
    """In the gunicorn master, before any worker: the directory, then prometheus-client imported with the
    variable set, so workers inherit file-backed samples and `child_exit` (a signal handler, where an
    import can deadlock or fail half-way) imports nothing."""
    directory = prepare_multiprocess_dir(environ)
    import prometheus_client.multiprocess  # noqa: F401

    return directory


def mark_worker_dead(pid: int, environ: MutableMapping[str, str]) -> None:
    """A dead worker's live gauges stop counting; its counters and histograms stay (they happened)."""
    directory = environ.get(MULTIPROC_ENV)
    if directory:
        from prometheus_client import multiprocess  # imported by start_multiprocess_mode: a lookup

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def remove_created_dir(environ: MutableMapping[str, str]) -> None:
    """On shutdown, remove the directory if `prepare_multiprocess_dir` made it (never the operator's)."""
    directory = environ.get(MULTIPROC_ENV)
    if directory and (Path(directory) / _CREATED_MARK).exists():
        shutil.rmtree(directory, ignore_errors=True)
