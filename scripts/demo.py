"""`make demo`: the whole path, end to end, on one machine, then a table of what came out.

Local by default: moto S3 and the Nanonets emulator on free loopback ports, the service under gunicorn
(the same `nanonets-ingest serve` as production). With NANONETS_API_KEY and NANONETS_MODEL_ID set it talks to
real Nanonets, which must download the documents, so it then also needs real S3: DEMO_INPUT_BUCKET,
OUTPUT_BUCKET and AWS credentials. Real Nanonets cannot call a webhook on this machine, so that mode
finishes documents by reconcile (fetch by file id), the path the service takes when a webhook is lost.

With `--review` (`make demo REVIEW=1`) the service also serves the review console (docs/REVIEW.md): a demo
reviewer is made with a fresh password, printed once at the end with the console's URL, and everything keeps
running until Ctrl-C so the samples can be clicked through.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from devtools.events import s3_record
from devtools.stack import (
    AWS_TEST_ENV,
    EMULATOR_KEY,
    EMULATOR_MODEL,
    REPO,
    Process,
    free_port,
    start_emulator,
    start_moto,
    wait_http,
)
from service.review.users import add_user

SAMPLES = REPO / "samples"
RULES = SAMPLES / "rules" / "fuel-receipts.yaml"
WORK = REPO / ".demo"
LOCAL_INPUT_BUCKET = "nanonets-ingest-demo-in"
LOCAL_OUTPUT_BUCKET = "nanonets-ingest-demo-out"
KEY_FIELDS = ("fecha", "total", "matricula")
DEMO_REVIEWER = "demo"


@dataclass
class Stack:
    input_bucket: str
    output_bucket: str
    prefix: str
    env: dict[str, str]
    real_nanonets: bool
    processes: list[Process] = field(default_factory=list)
    review_login: tuple[str, str] | None = None  # (name, password) of the demo reviewer, with --review

    def s3(self) -> Any:
        return boto3.client("s3", endpoint_url=self.env.get("AWS_ENDPOINT_URL"))

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for every output")
    parser.add_argument(
        "--review", action="store_true", help="serve the review console too, and keep serving until Ctrl-C"
    )
    args = parser.parse_args(argv)
    try:
        stack = build_stack(review=args.review)
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    try:
        code = run(stack, args.timeout or (600.0 if stack.real_nanonets else 90.0))
        if stack.review_login is not None:
            serve_console(stack)
        return code
    finally:
        stack.stop()


class DemoError(Exception):
    pass


def build_stack(*, review: bool = False) -> Stack:
    WORK.mkdir(exist_ok=True)
    real_nanonets = bool(os.environ.get("NANONETS_API_KEY") and os.environ.get("NANONETS_MODEL_ID"))
    real_s3 = bool(os.environ.get("DEMO_INPUT_BUCKET") and os.environ.get("OUTPUT_BUCKET"))
    if real_nanonets and not real_s3:
        raise DemoError(
            "real Nanonets must download the documents from S3: set DEMO_INPUT_BUCKET and OUTPUT_BUCKET "
            "(and AWS credentials), or unset NANONETS_API_KEY to use the local emulator"
        )
    if real_s3 and boto3.Session().get_credentials() is None:
        raise DemoError("DEMO_INPUT_BUCKET is set but boto3 finds no AWS credentials")
    secret = secrets.token_urlsafe(24)
    env = {
        "WEBHOOK_SECRET": secret,
        "VALIDATION_RULES": str(RULES),
        "LOG_LEVEL": "INFO",
        "WEB_CONCURRENCY": "2",
    }
    stack = Stack(
        input_bucket=os.environ.get("DEMO_INPUT_BUCKET", LOCAL_INPUT_BUCKET),
        output_bucket=os.environ.get("OUTPUT_BUCKET", LOCAL_OUTPUT_BUCKET),
        prefix="incoming/" + (f"nanonets-ingest-demo/{time.strftime('%Y%m%dT%H%M%S')}/" if real_s3 else ""),
        env=env,
        real_nanonets=real_nanonets,
    )
    if review:
        stack.review_login = _enable_review(env)
    try:
        _start_servers(stack, real_s3=real_s3)
    except Exception:
        stack.stop()
        raise
    return stack


def _enable_review(env: dict[str, str]) -> tuple[str, str]:
    """The console's settings for this run, and a demo reviewer with a password made for it."""
    users_file = WORK / "reviewers.yaml"
    users_file.unlink(missing_ok=True)
    password = secrets.token_urlsafe(12)
    add_user(users_file, DEMO_REVIEWER, password)
    env.update(
        {
            "REVIEW_ENABLED": "true",
            "REVIEW_USERS_FILE": str(users_file),
            "SESSION_SECRET": secrets.token_urlsafe(48),
        }
    )
    return DEMO_REVIEWER, password


def serve_console(stack: Stack) -> None:
    """Print where the console is and how to log in, then keep every server up until Ctrl-C."""
    assert stack.review_login is not None
    name, password = stack.review_login
    service = stack.processes[-1]
    print(f"\nreview console         {service.url}/review/")
    print(f"  log in as            {name} / {password}   (made for this run, shown only here)")
    print("serving until Ctrl-C")
    signal.signal(signal.SIGTERM, _stop_serving)  # `kill` stops the servers as cleanly as Ctrl-C
    try:
        while all(process.popen.poll() is None for process in stack.processes):
            time.sleep(1)
        print("a server stopped; see .demo/ for its log", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping")


def _stop_serving(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _start_servers(stack: Stack, *, real_s3: bool) -> None:
    env = stack.env
    env["OUTPUT_BUCKET"] = stack.output_bucket
    if not real_s3:
        moto = start_moto()
        stack.processes.append(moto)
        env.update(AWS_TEST_ENV)
        env["AWS_ENDPOINT_URL"] = moto.url
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        s3 = stack.s3()
        s3.create_bucket(Bucket=stack.input_bucket)
        s3.create_bucket(Bucket=stack.output_bucket)
        print(f"local S3 (moto)        {moto.url}")
    service_port = free_port()
    service_url = f"http://127.0.0.1:{service_port}"
    if not stack.real_nanonets:
        emulator = start_emulator(
            webhook_url=f"{service_url}/webhooks/nanonets?token={env['WEBHOOK_SECRET']}",
            log_dir=WORK,
        )
        stack.processes.append(emulator)
        env.update(
            {
                "NANONETS_API_KEY": EMULATOR_KEY,
                "NANONETS_MODEL_ID": EMULATOR_MODEL,
                "NANONETS_BASE_URL": emulator.url + "/api/v2",
            }
        )
        print(f"Nanonets emulator      {emulator.url}")
    stack.processes.append(_start_service(env, service_port))
    print(f"service (gunicorn)     {service_url}   log: {WORK / 'service.log'}")


def _start_service(env: dict[str, str], port: int) -> Process:
    log_path = WORK / "service.log"
    full_env = {**os.environ, **env}
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    process = Process(url=url, popen=popen, log_path=log_path)
    try:
        wait_http(url + "/healthz", timeout=30)
    except RuntimeError:
        process.stop()
        raise DemoError("the service did not start:\n" + log_path.read_text(errors="replace")) from None
    return process


def run(stack: Stack, timeout: float) -> int:
    s3 = stack.s3()
    service = stack.processes[-1]
    documents = sorted((SAMPLES / "documents").iterdir())
    records = []
    for document in documents:
        key = stack.prefix + document.name
        put = s3.put_object(Bucket=stack.input_bucket, Key=key, Body=document.read_bytes())
        records.append(
            s3_record(stack.input_bucket, key, size=document.stat().st_size, etag=put["ETag"].strip('"'))
        )
    print(f"\nuploaded {len(documents)} documents to s3://{stack.input_bucket}/{stack.prefix}")
    answer = requests.post(
        f"{service.url}/events/s3",
        params={"token": stack.env["WEBHOOK_SECRET"]},
        json={"Records": records},
        timeout=120,
    )
    summary = answer.json()
    print(
        f"POST /events/s3 -> {answer.status_code}: submitted={len(summary.get('submitted', []))} "
        f"skipped={len(summary.get('skipped', []))} failed={len(summary.get('failed', []))}"
    )
    if answer.status_code != 200:
        print(json.dumps(summary, indent=2), file=sys.stderr)
        return 1
    output_keys = {d.name: _output_key(stack, d.name) for d in documents}
    outputs = _wait_for_outputs(stack, output_keys, timeout)
    _print_table(stack, documents, outputs)
    missing = [name for name in output_keys if name not in outputs]
    if missing:
        print(f"\n{len(missing)} document(s) not finished within {timeout:.0f}s: {', '.join(missing)}")
        print(f"see {WORK / 'service.log'} and `nanonets-ingest status`")
        return 1
    print(f"\nevery sample finished: {len(outputs)} outputs in s3://{stack.output_bucket}/normalized/")
    for name in sorted(output_keys):
        print(f"  s3://{stack.output_bucket}/{output_keys[name]}")
    return 0


def _output_key(stack: Stack, name: str) -> str:
    rest = (stack.prefix + name).removeprefix("incoming/")
    return f"normalized/{rest}.json"


def _wait_for_outputs(stack: Stack, output_keys: dict[str, str], timeout: float) -> dict[str, dict[str, Any]]:
    s3 = stack.s3()
    outputs: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    next_reconcile = time.monotonic() + (20 if stack.real_nanonets else timeout / 2)
    while time.monotonic() < deadline and len(outputs) < len(output_keys):
        for name, key in output_keys.items():
            if name in outputs:
                continue
            with contextlib.suppress(s3.exceptions.NoSuchKey):
                outputs[name] = json.loads(s3.get_object(Bucket=stack.output_bucket, Key=key)["Body"].read())
        if time.monotonic() >= next_reconcile and len(outputs) < len(output_keys):
            # No webhook can reach this machine from real Nanonets (and one may be lost locally too).
            _reconcile(stack)
            next_reconcile = time.monotonic() + 15
        time.sleep(0.5)
    return outputs


def _reconcile(stack: Stack) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "reconcile", "--older-than", "0"],
        cwd=REPO,
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"reconcile: {(done.stdout or done.stderr).strip()}")


def _print_table(stack: Stack, documents: list[Path], outputs: dict[str, dict[str, Any]]) -> None:
    headers = ("file", "status", "pages", "validation", *KEY_FIELDS)
    rows = []
    for document in documents:
        output = outputs.get(document.name)
        if output is None:
            rows.append((document.name, "not finished", "", "", *("" for _ in KEY_FIELDS)))
            continue
        validation = output["validation"]
        verdict = validation["status"]
        if validation["issues"]:
            verdict += " (" + ", ".join(f"{i['field']}:{i['code']}" for i in validation["issues"]) + ")"
        rows.append(
            (
                document.name,
                f"done, {output['review']}",
                str(output["pages"]),
                verdict,
                *(_shown(output["fields"].get(label)) for label in KEY_FIELDS),
            )
        )
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    print()
    for row in (headers, tuple("-" * w for w in widths), *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _shown(found: dict[str, Any] | None) -> str:
    if not found:
        return "-"
    normalized = found.get("normalized")
    return str(normalized if normalized is not None else found["value"])


if __name__ == "__main__":
    sys.exit(main())
