"""Headless Chromium for the review console: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser download cannot work on our machines, so it is never used: `make install` installs
Debian's chromium when it is missing and we are root. Without chromium and without root the browser tests
skip and say so loudly; with root and no chromium they fail, because `make install` should have put it there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def chromium_or_skip() -> str:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() == 0:
        pytest.fail("Debian's chromium is missing: `make install` (as root) installs it with apt-get")
    pytest.skip(
        "SKIPPED LOUDLY: no /usr/bin/chromium and not root, so the review console's browser tests "
        "cannot run. Run `make install` as root (it runs `apt-get install -y chromium`)."
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()
