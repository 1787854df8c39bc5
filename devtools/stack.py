"""The local stack for the tests, the demo, the bench and the soak: moto S3, the Nanonets emulator, gunicorn.

Each is a real process or thread listening on 127.0.0.1 on a free port, reached over real HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from service.serve import gunicorn_argv

REPO = Path(__file__).resolve().parent.parent
EMULATOR_KEY = "emulator-key-0123456789"
EMULATOR_MODEL = "emulator-model"
# The second model of samples/routes.yaml (route "invoices"); the local emulator knows both.
EMULATOR_INVOICES_MODEL = "emulator-invoices"
EMULATOR_MODELS = (EMULATOR_MODEL, EMULATOR_INVOICES_MODEL)
TEST_SECRET = "test-webhook-secret-0123456789"  # noqa: S105 - the local stack's own, never a real one
# Start-up config of the emulator for the local stack: empty, so tests, demo, bench and soak run against
# live Nanonets shapes (per-document export webhooks, table cells scored 0-100), as the service must.
SERVICE_COMPAT: dict[str, str] = {}
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException as error:
            last = error
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


@dataclass
class Process:
    """A child process with a base URL; stopped with `stop()`."""

    url: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None = None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def start_moto(port: int | None = None) -> Process:
    """moto in server mode, in its own process so a test can stop and restart it."""
    port = port or free_port()
    env = {**os.environ, **AWS_TEST_ENV}
    popen = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/moto-api/")
    return Process(url=url, popen=popen)


def start_emulator(
    *,
    webhook_url: str | None = None,
    extra_args: list[str] | None = None,
    log_dir: Path | None = None,
    compat: Mapping[str, str] | None = None,
    model_ids: Sequence[str] = EMULATOR_MODELS,
) -> Process:
    """The emulator in its own process, knowing `model_ids` (both models of samples/routes.yaml by
    default). `compat` (default `SERVICE_COMPAT`) sets its start-up config, which `/_emulator/reset`
    returns to."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "devtools.emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--api-key",
        EMULATOR_KEY,
    ]
    for model_id in model_ids:
        args += ["--model-id", model_id]
    for name, value in (SERVICE_COMPAT if compat is None else compat).items():
        args += [f"--{name.replace('_', '-')}", value]
    if webhook_url:
        args += ["--webhook-url", webhook_url]
    args += extra_args or []
    log_path = (log_dir or Path(tempfile.gettempdir())) / f"emulator-{port}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/_emulator/health")
    return Process(url=url, popen=popen, log_path=log_path)


@dataclass
class ServiceEnv:
    """The environment a service process needs to talk to the local servers."""

    s3_url: str
    emulator_url: str
    output_bucket: str = "ingest-out"
    extra: Mapping[str, str] = field(default_factory=dict)

    def as_env(self) -> dict[str, str]:
        return {
            **AWS_TEST_ENV,
            "AWS_ENDPOINT_URL": self.s3_url,
            "NANONETS_API_KEY": EMULATOR_KEY,
            "NANONETS_MODEL_ID": EMULATOR_MODEL,
            "NANONETS_BASE_URL": self.emulator_url + "/api/v2",
            "OUTPUT_BUCKET": self.output_bucket,
            "WEBHOOK_SECRET": TEST_SECRET,
            "NANONETS_BACKOFF_FACTOR": "0.05",
            **self.extra,
        }


def start_gunicorn(
    env: Mapping[str, str], *, workers: int = 2, log_dir: Path | None = None, config: str | None = None
) -> Process:
    """gunicorn serving the app; `config` e.g. "python:service.gunicorn_conf" (the deployed settings)."""
    port = free_port()
    log_path = (log_dir or Path(tempfile.gettempdir())) / f"gunicorn-{port}.log"
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("NANONETS_", "AWS_"))}, **env}
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            gunicorn_argv(f"127.0.0.1:{port}", workers=workers, config=config, extra=["--timeout", "60"]),
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz")
    except RuntimeError:
        popen.kill()
        raise RuntimeError("gunicorn did not start:\n" + log_path.read_text(errors="replace")) from None
    return Process(url=url, popen=popen, log_path=log_path)
