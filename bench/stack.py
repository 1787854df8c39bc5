"""The servers a bench section needs: moto S3, the Nanonets emulator, and gunicorn apps (service and floor).

moto and the emulator come from devtools/stack.py, as in the e2e tests. Both gunicorn apps are started by
`start_app` with the same flags and the service's own config (`service/gunicorn_conf.py`: sync workers,
JSON access log), so the only difference between them is the app.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.common import REPO, children
from devtools.stack import AWS_TEST_ENV, Process, ServiceEnv, free_port, wait_http
from service.serve import APP, gunicorn_argv

INPUT_BUCKET = "ingest-in"
OUTPUT_BUCKET = "ingest-out"
FLOOR_BUCKET = "floor-state"
SERVICE_APP = APP  # what `nanonets-ingest serve` runs
RULES = str(REPO / "samples" / "rules" / "fuel-receipts.yaml")
FLOOR_APP = "bench.floor_app:create_app()"


def s3_client(url: str, pool: int = 32) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=pool),
    )


def create_buckets(s3: Any, names: Iterable[str] = (INPUT_BUCKET, OUTPUT_BUCKET, FLOOR_BUCKET)) -> None:
    for name in names:
        try:
            s3.create_bucket(Bucket=name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise


def service_env(s3_url: str, emulator_url: str, **extra: str) -> dict[str, str]:
    """The service's environment against the local servers: the e2e tests' one, with the sample rules.
    Pacing is measured in table 3 alone (which sets its budget in `extra`); elsewhere a budget out of reach
    keeps it from holding back the thousands of submissions the other tables make in seconds."""
    return ServiceEnv(
        s3_url=s3_url,
        emulator_url=emulator_url,
        output_bucket=OUTPUT_BUCKET,
        extra={"VALIDATION_RULES": RULES, "NANONETS_PAGES_PER_MINUTE": "1000000", **extra},
    ).as_env()


@dataclass
class App:
    process: Process
    name: str

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def master_pid(self) -> int:
        return self.process.popen.pid

    def workers(self) -> list[int]:
        return children(self.master_pid)

    def stop(self) -> None:
        self.process.stop()


def start_app(name: str, app: str, env: Mapping[str, str], *, workers: int = 2, log_dir: Path) -> App:
    """gunicorn with the service's config file; `workers` sync workers; logs to log_dir/<name>.log."""
    port = free_port()
    log_path = log_dir / f"{name}.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NANONETS_", "AWS_", "GUNICORN_"))}
    full_env = {**base, **env, "WEB_CONCURRENCY": str(workers), "LOG_LEVEL": "info"}
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            gunicorn_argv(f"127.0.0.1:{port}", app=app),
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", timeout=30)
    except RuntimeError:
        popen.kill()
        raise RuntimeError(f"{name} did not start:\n" + log_path.read_text(errors="replace")) from None
    started = App(Process(url=url, popen=popen, log_path=log_path), name)
    if len(started.workers()) != workers:
        # Workers boot after the first one answers /healthz; give the others a moment.
        import time

        deadline = time.monotonic() + 10
        while len(started.workers()) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
    return started


def in_process_service(env: Mapping[str, str]) -> Any:
    """The service built from the same settings the server gets, for submitting through the real path."""
    from service.bootstrap import build
    from service.settings import load_settings

    overrides = {k.lower(): v for k, v in env.items() if not k.startswith("AWS_") or k == "AWS_ENDPOINT_URL"}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        os.environ[key] = env[key]
    settings = load_settings(_env_file=None, **overrides)
    return build(settings)


def put_documents(s3: Any, documents: Mapping[str, bytes], threads: int = 8) -> None:
    def put(item: tuple[str, bytes]) -> None:
        s3.put_object(Bucket=INPUT_BUCKET, Key=item[0], Body=item[1], ContentType="application/pdf")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, documents.items()))


def start_s3stub(log_dir: Path) -> Process:
    """bench/s3stub.py in its own process (see there why)."""
    port = free_port()
    log_path = log_dir / "s3stub.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bench.s3stub", "--port", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    import time

    deadline = time.monotonic() + 20
    while "S3STUB_READY" not in log_path.read_text(errors="replace"):
        if popen.poll() is not None or time.monotonic() > deadline:
            popen.kill()
            raise RuntimeError("the S3 stub did not start:\n" + log_path.read_text(errors="replace"))
        time.sleep(0.05)
    return Process(url=url, popen=popen, log_path=log_path)


@contextlib.contextmanager
def running(*processes: Process | App) -> Iterator[None]:
    """Stops `processes`, last first, however the block ends."""
    try:
        yield
    finally:
        for process in reversed(processes):
            with contextlib.suppress(Exception):
                process.stop()


@dataclass(frozen=True)
class StandIn:
    """The webhook bench's stack on the S3 stand-in: the stub, the emulator (its webhooks off: the bench
    sends them), the three buckets, the service's settings and the service built from them in process."""

    stub: Process
    emulator_url: str
    s3: Any
    env: dict[str, str]
    pipeline: Any


@contextlib.contextmanager
def stand_in(work_dir: Path) -> Iterator[StandIn]:
    from devtools.stack import start_emulator

    stub = start_s3stub(work_dir)
    with running(stub):  # stopped also when the emulator fails to start
        emulator = start_emulator(log_dir=work_dir)
        with running(emulator):
            yield _configured(stub, emulator.url)


def _configured(stub: Process, emulator_url: str) -> StandIn:
    from devtools.emulator.control import EmulatorControl

    EmulatorControl(emulator_url).config(webhooks_enabled=False)
    s3 = s3_client(stub.url)
    create_buckets(s3, (INPUT_BUCKET, OUTPUT_BUCKET, FLOOR_BUCKET))
    env = service_env(stub.url, emulator_url)
    return StandIn(stub=stub, emulator_url=emulator_url, s3=s3, env=env, pipeline=in_process_service(env))


@contextlib.contextmanager
def in_process_client(env: Mapping[str, str]) -> Iterator[Any]:
    """The service's Flask app in this process (test client), built from `env`. The app logs JSON lines
    at INFO (part of its cost, so left on) to stderr: they go to /dev/null here."""
    import logging

    from service.settings import load_settings
    from service.web import create_app

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app(load_settings(_env_file=None))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    root = logging.getLogger()
    handlers = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    with open(os.devnull, "w") as sink:
        previous = [h.setStream(sink) for h in handlers]
        try:
            yield app.test_client()
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                handler.setStream(stream)
            root.setLevel(logging.WARNING)
