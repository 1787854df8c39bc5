"""The short soak of `make test`: 50 documents through gunicorn while the emulator injects 429s, 5xx, slow
answers, dropped, repeated and shuffled webhooks (no S3 outage, no worker kill: that is `make soak`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.soak import run_soak

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(400)
def test_fifty_documents_under_faults_end_as_fifty_outputs(tmp_path: Path) -> None:
    report = run_soak(50, chaos=False, workdir=tmp_path, deadline_seconds=300)
    assert (report.missing, report.duplicates) == (0, 0), report.text()
    assert report.outputs == 50, report.text()
    assert report.pending_left == 0, report.text()
