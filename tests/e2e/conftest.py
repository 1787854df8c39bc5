"""The service under gunicorn (2 workers), against the session's moto server and emulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.emulator.control import EmulatorControl
from devtools.stack import REPO, TEST_SECRET, Process, ServiceEnv, start_gunicorn

RULES = str(REPO / "samples" / "rules" / "fuel-receipts.yaml")


def start_service(moto_server: Process, emulator_server: Process, log_dir: Path) -> Process:
    """The service under gunicorn (2 workers) with the sample rules, against the given servers."""
    env = ServiceEnv(
        s3_url=moto_server.url, emulator_url=emulator_server.url, extra={"VALIDATION_RULES": RULES}
    ).as_env()
    return start_gunicorn(env, workers=2, log_dir=log_dir)


@pytest.fixture(scope="module")
def service(
    moto_server: Process, emulator_server: Process, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    process = start_service(moto_server, emulator_server, tmp_path_factory.mktemp("gunicorn"))
    yield process
    process.stop()


@dataclass
class Stack:
    service_url: str
    emulator: EmulatorControl
    s3: Any

    @property
    def webhook_url(self) -> str:
        return f"{self.service_url}/webhooks/nanonets?token={TEST_SECRET}"


@pytest.fixture()
def stack(service: Process, emulator_url: str, s3: Any) -> Iterator[Stack]:
    """The emulator is reset before S3, so no delivery of an earlier test lands in the fresh state."""
    control = EmulatorControl(emulator_url)
    control.config(
        webhook_url=f"{service.url}/webhooks/nanonets?token={TEST_SECRET}",
        processing_delay=0.05,
        webhook_retry_delay=0.1,
    )
    yield Stack(service_url=service.url, emulator=control, s3=s3)
    # A test may end as soon as an output appears, while its webhook request still moves the ledger
    # record; wait for every delivery to be answered, or the next test's S3 reset lands mid-request.
    control.flush()


def read_log(process: Process) -> str:
    return process.log()


__all__ = ["RULES", "Stack", "read_log", "start_service"]
