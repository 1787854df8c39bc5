"""The floor of the webhook benchmark: a bare Flask endpoint in the same gunicorn setup as the service,
reading the body and making the same S3 calls as the service's webhook, with none of the service's logic
(no JSON parsing, validation, normalization or logging). service/floor says how much of the time is ours
rather than the framework's and S3's.

The calls are not written down here: they are the ones the bench counted the service making in this run
(`count_s3_calls` in bench/webhook_bench.py, on bench/s3stub.py), passed in as a plan file (FLOOR_PLAN):
for each body size and delivery ("1-first", "10-repeat", ...), every kind of call by method, condition
(If-None-Match / If-Match), outcome (200, 204, 404, 412...), kind of key (raw archive, ledger record,
output, ...), how many per webhook and how many bytes. `POST /webhooks/nanonets?plan=1-first` replays one
webhook's worth, on keys of the same kinds (bench/s3stub.py `KEY_KINDS`) with the same outcomes:

- a PUT that created an object creates one (a key of its own per request, from the body's sha256);
- a conditional PUT that failed (412) fails the same way, on an object `seed` created;
- a PUT with If-Match that succeeded matches a seeded object's ETag (it writes the same bytes again);
- a GET or HEAD that found its object finds one of the same size; one answered 404 asks for a missing key;
- a DELETE deletes a key of its own (S3 answers 204 whether it was there or not).

A call counted 0.5 times per webhook is made on every other request of a worker. Run as
`gunicorn 'bench.floor_app:create_app()'` with AWS_ENDPOINT_URL, FLOOR_BUCKET and FLOOR_PLAN set, after
`seed` (the bench calls it once, so that no worker's start-up lands among the calls it counts).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from itertools import count
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from flask import Flask, Response, jsonify, request

from bench.s3stub import S3Call, prefix_of
from service.adapters.s3.objects import build_s3_client

Plans = dict[str, list[S3Call]]


def plan_name(n_pages: int, delivery: str) -> str:
    return f"{n_pages}-{delivery}"


def write_plans(path: Path, plans: Mapping[str, list[S3Call]]) -> Path:
    path.write_text(json.dumps({name: [asdict(c) for c in calls] for name, calls in plans.items()}, indent=1))
    return path


def read_plans(path: Path) -> Plans:
    return {name: [S3Call(**c) for c in calls] for name, calls in json.loads(path.read_text()).items()}


def padding(size: int) -> bytes:
    return b"x" * size


def etag_of(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


def _key(call: S3Call, name: str) -> str:
    return f"{prefix_of(call.kind)}floor/{name}"


def replayable(call: S3Call) -> str | None:
    """Why the floor cannot make this call the way the service did; None when it can."""
    if call.method in ("GET", "HEAD") and call.status in (200, 404):
        return None
    if call.method == "DELETE" and call.status == 204:
        return None
    if call.method == "PUT" and call.status == 200:
        return None
    if call.method == "PUT" and call.status in (404, 412) and call.condition:
        return None
    return f"no way to replay {call.label} on a {call.kind} key"


def check(plans: Plans) -> None:
    problems = [problem for calls in plans.values() for call in calls if (problem := replayable(call))]
    if problems:
        raise ValueError("FLOOR_PLAN: " + "; ".join(problems))


def seed(s3: Any, bucket: str, plans: Plans) -> None:
    """The objects the plans find (GET/HEAD 200), fail on (PUT If-None-Match 412) or match (If-Match)."""
    check(plans)
    for calls in plans.values():
        for call in calls:
            if call.method in ("GET", "HEAD") and call.status == 200:
                s3.put_object(Bucket=bucket, Key=_key(call, f"found-{call.bytes}"), Body=padding(call.bytes))
            elif call.method == "PUT" and call.condition:
                s3.put_object(Bucket=bucket, Key=_key(call, f"there-{call.bytes}"), Body=padding(call.bytes))


def replay(s3: Any, bucket: str, call: S3Call, unique: str) -> None:
    """Make `call` once, with the outcome the service had; `unique` names the keys this call creates."""
    body = padding(call.bytes)
    there = _key(call, f"there-{call.bytes}")
    if call.method == "GET":
        name = f"found-{call.bytes}" if call.status == 200 else "missing"
        s3.get_object(Bucket=bucket, Key=_key(call, name))["Body"].read()
    elif call.method == "HEAD":
        s3.head_object(
            Bucket=bucket, Key=_key(call, f"found-{call.bytes}" if call.status == 200 else "missing")
        )
    elif call.method == "DELETE":
        s3.delete_object(Bucket=bucket, Key=_key(call, f"{unique}-gone"))
    elif call.condition == "If-Match":
        # Success: the same bytes again keep the ETag, so every request matches, however many race.
        etag = etag_of(body) if call.status == 200 else '"0"'
        s3.put_object(Bucket=bucket, Key=there, Body=body, ContentType="application/json", IfMatch=etag)
    elif call.condition == "If-None-Match":
        key = _key(call, unique) if call.status == 200 else there
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
    else:
        s3.put_object(Bucket=bucket, Key=_key(call, unique), Body=body, ContentType="application/json")


def tolerated(error: ClientError, call: S3Call) -> bool:
    """The failure the service had too (a failed condition: S3 says 412, or 404 for If-Match on a missing
    key); or a first delivery's body that wrk sent again, whose keys exist already."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == call.status or (bool(call.condition) and status in (404, 412))


def times(per_webhook: float, request_no: int) -> int:
    """How many of this call the `request_no`th request makes: on average `per_webhook`."""
    return int(per_webhook * (request_no + 1) + 1e-9) - int(per_webhook * request_no + 1e-9)


def create_app() -> Flask:
    # Built the way the service builds its S3 client: the same settings, whatever they become.
    s3 = build_s3_client(
        os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    )
    bucket = os.environ["FLOOR_BUCKET"]
    plans = read_plans(Path(os.environ["FLOOR_PLAN"]))
    check(plans)
    requests_served: Callable[[], int] = count().__next__
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.post("/webhooks/nanonets")
    def webhook() -> Response:
        body = request.get_data(cache=False)
        unique = hashlib.sha256(body).hexdigest()
        request_no = requests_served()
        for index, call in enumerate(plans[request.args["plan"]]):
            for repeat in range(times(call.per_webhook, request_no)):
                try:
                    replay(s3, bucket, call, f"{unique}-{index}-{repeat}")
                except ClientError as error:
                    if not tolerated(error, call):
                        raise
        return jsonify({"ok": True})

    return app
