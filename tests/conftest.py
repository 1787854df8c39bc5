"""Session-wide real servers: moto S3 (own process) and the Nanonets emulator (own process)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from devtools.stack import (
    AWS_TEST_ENV,
    EMULATOR_KEY,
    EMULATOR_MODEL,
    TEST_SECRET,
    Process,
    start_emulator,
    start_moto,
)

INPUT_BUCKET = "ingest-in"
OUTPUT_BUCKET = "ingest-out"


@pytest.fixture(scope="session", autouse=True)
def _aws_test_credentials() -> Iterator[None]:
    """Never let a test reach real AWS with real credentials."""
    saved = {k: os.environ.get(k) for k in [*AWS_TEST_ENV, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.update(AWS_TEST_ENV)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Process]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture()
def s3_url(moto_server: Process) -> str:
    """A clean moto server with the input and output buckets created."""
    requests.post(moto_server.url + "/moto-api/reset", timeout=5)
    client = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1")
    client.create_bucket(Bucket=INPUT_BUCKET)
    client.create_bucket(Bucket=OUTPUT_BUCKET)
    return moto_server.url


@pytest.fixture()
def s3(s3_url: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    server = start_emulator(log_dir=tmp_path_factory.mktemp("emulator"))
    yield server
    server.stop()


@pytest.fixture()
def emulator_url(emulator_server: Process) -> str:
    """A clean emulator (no files, no faults, no webhook URL)."""
    requests.post(emulator_server.url + "/_emulator/reset", timeout=5).raise_for_status()
    return emulator_server.url


@pytest.fixture()
def base_env(s3_url: str, emulator_url: str) -> dict[str, str]:
    return {
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL": s3_url,
        "NANONETS_API_KEY": EMULATOR_KEY,
        "NANONETS_MODEL_ID": EMULATOR_MODEL,
        "NANONETS_BASE_URL": emulator_url + "/api/v2",
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "WEBHOOK_SECRET": TEST_SECRET,
        "NANONETS_BACKOFF_FACTOR": "0.01",
        # Pacing is tested where a test means it (it sets a budget of its own); elsewhere it stays out of
        # the way of tests that submit hundreds of documents in seconds.
        "NANONETS_PAGES_PER_MINUTE": "100000",
    }
