"""schemathesis against the running service (gunicorn, moto S3, emulator): the served /openapi.json is the
spec, and no generated request may produce a 500 or an answer the spec does not describe."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from devtools.stack import REPO, TEST_SECRET
from tests.e2e.conftest import Stack

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "ignored_auth",
    ]
)


def test_served_spec_is_the_one_in_the_repo(stack: Stack) -> None:
    served = requests.get(stack.service_url + "/openapi.json", timeout=5).json()
    assert served["openapi"].startswith("3.")
    assert set(served["paths"]) == {"/healthz", "/openapi.json", "/webhooks/nanonets", "/events/s3"}


@pytest.mark.timeout(300)
def test_schemathesis_finds_no_server_error_and_no_spec_violation(stack: Stack, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{stack.service_url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "40",
            "--seed",
            "20261125",
            "--workers",
            "2",
            "--header",
            f"X-Webhook-Token: {TEST_SECRET}",
            "--request-timeout",
            "30",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts is not None, done.stdout[-3000:]
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed and generated >= 50  # it really exercised the endpoints
