"""Background work of the emulator (async processing, webhook delivery), with a way to wait for quiet."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

log = logging.getLogger("devtools.emulator")


class Background:
    """A small pool whose in-flight count lets /_emulator/flush wait until nothing is under way."""

    def __init__(self, workers: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emulator")
        self._idle = threading.Condition()
        self._in_flight = 0
        self._cancelled = threading.Event()

    def submit(self, work: Callable[[], object], delay: float = 0.0) -> None:
        with self._idle:
            self._in_flight += 1
            cancelled = self._cancelled
        self._pool.submit(self._run, work, delay, cancelled)

    def cancel_pending(self) -> None:
        """Wake every delayed task and drop it (a reset must not wait out a long processing delay)."""
        with self._idle:
            self._cancelled.set()
            self._cancelled = threading.Event()

    def _run(self, work: Callable[[], object], delay: float, cancelled: threading.Event) -> None:
        try:
            if delay > 0 and cancelled.wait(delay):
                return
            if cancelled.is_set():
                return
            work()
        except Exception:  # a background failure must not kill the pool
            log.exception("emulator background work failed")
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True


def deliver(url: str, body: Any, *, retries: int, retry_delay: float) -> bool:
    """POST a webhook body, retrying failures with exponential backoff, as Nanonets retries."""
    for attempt in range(retries + 1):
        try:
            response = requests.post(url, json=body, timeout=30)
            if response.status_code < 300:
                return True
            log.info("webhook answered %s (attempt %d)", response.status_code, attempt + 1)
        except requests.RequestException as error:
            log.info("webhook failed: %s (attempt %d)", type(error).__name__, attempt + 1)
        if attempt < retries:
            time.sleep(retry_delay * 2**attempt)
    return False
