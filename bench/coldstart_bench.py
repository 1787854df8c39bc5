"""Table 4: cold start of the Lambda handler module, against importing its dependencies alone.

Each measurement is a fresh `python -c` process (as a new Lambda container), timed inside the process from
its first line. The reference is the floor any handler that talks to S3 pays: it imports flask, boto3,
pydantic and requests and creates one boto3 S3 client, configured as the service configures its own
(`service.adapters.s3.objects.build_s3_client`: region, endpoint, SigV4, path-style, retries, timeouts).
The subject imports `service.aws_lambda` and answers one event. Two subjects:
- events: `events_handler` with an SQS batch holding one S3 ObjectCreated event (HEAD, claim, presign,
  LabelUrls to the emulator, ledger record), then a second event in the same process ("warm"), which
  shows how much of the first event is start-up rather than the event's own I/O;
- http: `http_handler` with an API Gateway HTTP API (v2) event for GET /healthz, through apig-wsgi.
Rounds interleave reference and subjects, launch by launch, the order flipping every round (reference,
events, http; then http, events, reference), so the subject always runs next to its reference. Each round
gives a paired ratio, subject / that round's reference; the figure that holds is the median of the paired
ratios of CPU time (user + sys of the child from its first line, read by `time.process_time`: the
interpreter's own start-up, the same on both sides, is left out). On a shared machine the reference's own
median moves by 20% between runs minutes apart, and a ratio of two separate medians moves with it; a
paired ratio cancels what slows both launches of a round, and its median over 14 rounds held within 2%
between runs minutes apart (1.37 and 1.35 for one version of the service, 1.13 and 1.15 for the next, at
load 1.7-2.7 on 2 cores; the ratio of separate medians moved from 1.39 to 1.19 in the same two runs).
One round's ratio still strays (the middle half spans about 0.2), so the quartiles are reported too.
Wall-clock ratios (what a Lambda init bills) are given too, paired the same way; they are the noisier.
The S3 here is bench/s3stub.py, so the event's own I/O costs ~1 ms per call rather than moto's ~6 ms.
The rules file is the JSON copy the Lambda package ships of samples/rules/fuel-receipts.yaml, as
serverless.yml names it (`scripts/lambda_package.py`: PyYAML stays off the cold start; with the YAML file
named instead it costs about 25 ms more). The service's modules are byte-compiled before measuring, as the
site-packages of both sides already are (with PYTHONDONTWRITEBYTECODE set, as on these machines, Python would
otherwise compile them from source in every process). `modules_beyond_reference` runs the subject once more
with `-X importtime` after importing the reference and sums the import time of what it adds, by top-level
package: where lazy imports would pay.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.common import REPO, median
from bench.payloads import document_bytes, pages
from bench.stack import INPUT_BUCKET, put_documents
from devtools.events import s3_event, sqs_batch
from scripts.lambda_package import json_copy

REFERENCE_MODULES = ("flask", "boto3", "pydantic", "requests")

Clock = Literal["cpu", "wall"]
Subject = Literal["events", "http"]

# The client as `build_s3_client` makes it, endpoint and region from the same variables the settings read.
S3_CLIENT = """
from botocore.config import Config
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
    region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    config=Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if os.environ.get("AWS_ENDPOINT_URL") else "auto"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=15,
        max_pool_connections=32,
    ),
)
"""

REFERENCE = f"""
import json, os, time
c0, t0 = time.process_time(), time.perf_counter()
import flask, boto3, pydantic, requests
t1 = time.perf_counter()
{S3_CLIENT}
t2 = time.perf_counter()
print("COLD " + json.dumps({{"import": t1 - t0, "client": t2 - t1, "cpu": time.process_time() - c0}}))
"""

EVENTS = """
import json, sys, time
c0, t0 = time.process_time(), time.perf_counter()
from service import aws_lambda
t1 = time.perf_counter()
first = aws_lambda.events_handler(json.loads(sys.argv[1]), None)
t2, c2 = time.perf_counter(), time.process_time()
second = aws_lambda.events_handler(json.loads(sys.argv[2]), None)
t3 = time.perf_counter()
ok = first.get("batchItemFailures") == [] and second.get("batchItemFailures") == []
print("COLD " + json.dumps({"import": t1 - t0, "first": t2 - t1, "warm": t3 - t2, "cpu": c2 - c0, "ok": ok}))
"""

HTTP = """
import json, sys, time
c0, t0 = time.process_time(), time.perf_counter()
from service import aws_lambda
t1 = time.perf_counter()
first = aws_lambda.http_handler(json.loads(sys.argv[1]), None)
t2, c2 = time.perf_counter(), time.process_time()
second = aws_lambda.http_handler(json.loads(sys.argv[1]), None)
t3 = time.perf_counter()
ok = first.get("statusCode") == 200 and second.get("statusCode") == 200
print("COLD " + json.dumps({"import": t1 - t0, "first": t2 - t1, "warm": t3 - t2, "cpu": c2 - c0, "ok": ok}))
"""

# The events handler step by step in one process. The S3 client is timed where the service builds it
# (`build_s3_client`, wrapped) and taken out of the step it falls in, so it stands as a step of its own.
STAGED = """
import json, sys, time
t0 = time.perf_counter()
import flask, boto3, pydantic, requests
t1 = time.perf_counter()
from pydantic import BaseModel
t2 = time.perf_counter()
import pydantic_settings
t3 = time.perf_counter()
from service import aws_lambda
from service.adapters.s3 import objects
t4 = time.perf_counter()
client_seconds = []
unwrapped = objects.build_s3_client
def timed_client(*args, **kwargs):
    started = time.perf_counter()
    try:
        return unwrapped(*args, **kwargs)
    finally:
        client_seconds.append(time.perf_counter() - started)
objects.build_s3_client = timed_client
aws_lambda._service()
t5 = time.perf_counter()
in_build = sum(client_seconds)
aws_lambda.events_handler(json.loads(sys.argv[1]), None)
t6 = time.perf_counter()
in_event = sum(client_seconds) - in_build
print("COLD " + json.dumps({
    "flask, boto3, pydantic, requests (the reference's imports)": t1 - t0,
    "one boto3 S3 client (the reference's client; here the service's own)": in_build + in_event,
    "pydantic's lazy part (BaseModel and what it loads)": t2 - t1,
    "pydantic-settings": t3 - t2,
    "the service's modules imported by `service.aws_lambda`": t4 - t3,
    "`aws_lambda._service()`: settings, logging, routes and rules checked": t5 - t4 - in_build,
    "the event: the parts it builds on first use (intake, submit, Nanonets session) and their imports, "
    "then HEAD, claim, pacing, presign, LabelUrls, record": t6 - t5 - in_event,
}))
"""

# The step table's processes (one importing step by step), after the paired rounds.
STAGED_RUNS = 3

OPTIONAL = (
    "flask",
    "werkzeug",
    "jinja2",
    "click",
    "apig_wsgi",
    "tqdm",
    "service.web",
    "devtools",
    "service.cli",
    "service.usecases.recover",
    "service.usecases.complete",
    "service.core.normalize",
    "service.review",
    "service.adapters.events",
    "asyncio",
    "yaml",
)

LOADED = """
import json, sys
from service import aws_lambda
aws_lambda.events_handler(json.loads(sys.argv[1]), None)
names = json.loads(sys.argv[2])
print("COLD " + json.dumps({"loaded": [n for n in names if n in sys.modules]}))
"""

IMPORTTIME = f"""
import json, os, sys
import flask, boto3, pydantic, requests
{S3_CLIENT}
print("BENCH-MARK", file=sys.stderr, flush=True)
from service import aws_lambda
aws_lambda.events_handler(json.loads(sys.argv[1]), None)
"""


def http_event(path: str = "/healthz") -> dict[str, Any]:
    host = "abc123.execute-api.us-east-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": host, "user-agent": "bench", "accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": host,
            "domainPrefix": "abc123",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": "bench-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795600800000,
        },
        "isBase64Encoded": False,
    }


@dataclass
class ColdReport:
    rounds: int
    reference: list[float] = field(default_factory=list)  # imports + S3 client: the floor
    reference_import: list[float] = field(default_factory=list)
    reference_client: list[float] = field(default_factory=list)
    reference_cpu: list[float] = field(default_factory=list)
    reference_wall: list[float] = field(default_factory=list)
    events: list[dict[str, float]] = field(default_factory=list)
    events_wall: list[float] = field(default_factory=list)
    http: list[dict[str, float]] = field(default_factory=list)
    http_wall: list[float] = field(default_factory=list)
    python_startup: list[float] = field(default_factory=list)
    beyond_reference: list[tuple[str, float]] = field(default_factory=list)
    breakdown: list[dict[str, float]] = field(default_factory=list)
    optional_loaded: list[str] = field(default_factory=list)  # of OPTIONAL, what the events path imported
    failures: list[str] = field(default_factory=list)

    def breakdown_medians(self) -> list[tuple[str, float]]:
        if not self.breakdown:
            return []
        return [(step, median([b[step] for b in self.breakdown])) for step in self.breakdown[0]]

    def med(self, series: list[dict[str, float]], key: str) -> float:
        return median([item[key] for item in series])

    def total(self, series: list[dict[str, float]]) -> float:
        return median([item["import"] + item["first"] for item in series])

    def paired_ratios(self, subject: Subject, clock: Clock = "cpu") -> list[float]:
        """Round by round, the subject's import + first event over the same round's reference (imports +
        client), of CPU time or of wall-clock time: `reference`, `events` and `http` are filled one entry
        per round, so index i of each is one round."""
        series = self.events if subject == "events" else self.http
        if clock == "cpu":
            return [item["cpu"] / ref for item, ref in zip(series, self.reference_cpu, strict=True)]
        return [
            (item["import"] + item["first"]) / ref for item, ref in zip(series, self.reference, strict=True)
        ]

    def paired_ratio(self, subject: Subject, clock: Clock = "cpu") -> float:
        """The median of the paired ratios: the figure the goal is judged on (CPU)."""
        return median(self.paired_ratios(subject, clock))

    def paired_quartiles(self, subject: Subject, clock: Clock = "cpu") -> tuple[float, float]:
        """The middle half of the paired ratios (first and third quartiles): how far one round strays."""
        ratios = self.paired_ratios(subject, clock)
        if len(ratios) < 2:
            return (ratios[0], ratios[0]) if ratios else (0.0, 0.0)
        first, _, third = statistics.quantiles(ratios, n=4)
        return first, third

    def as_dict(self) -> dict[str, Any]:
        summary = {
            f"{subject}_{clock}": {
                "median": self.paired_ratio(subject, clock),
                "quartiles": self.paired_quartiles(subject, clock),
            }
            for subject in ("events", "http")
            for clock in ("cpu", "wall")
            if self.reference
        }
        return {**asdict(self), "paired_ratios": summary}


def _child(
    code: str, args: list[str], env: dict[str, str], extra: list[str] | None = None
) -> tuple[str, str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *(extra or []), "-c", code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"cold-start child failed:\n{result.stderr[-3000:]}")
    return result.stdout, result.stderr, wall


def _measured(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("COLD "):
            parsed: dict[str, Any] = json.loads(line[5:])
            return parsed
    raise RuntimeError(f"no COLD line in: {stdout[-500:]}")


def _sqs_event(key: str, tag: str) -> str:
    return json.dumps(sqs_batch([(f"cold-{tag}", json.dumps(s3_event(INPUT_BUCKET, key, size=600)))]))


def modules_beyond_reference(env: dict[str, str], event: str) -> list[tuple[str, float]]:
    """Import time (self, summed by top-level package) of what the events path imports beyond the
    reference modules, in ms, largest first."""
    _, stderr, _ = _child(IMPORTTIME, [event], env, ["-X", "importtime"])
    after = stderr.split("BENCH-MARK", 1)[1]
    totals: dict[str, float] = defaultdict(float)
    for line in after.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if not self_us.isdigit():
            continue
        totals[name.strip().split(".")[0]] += int(self_us) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])


def byte_compile_service() -> None:
    """Compile `service/` once, as pip compiled the dependencies of both sides at install."""
    compileall.compile_dir(REPO / "service", quiet=1)


def rules_as_packaged(env: dict[str, str], folder: Path) -> dict[str, str]:
    """`env` with VALIDATION_RULES naming a JSON copy (in `folder`) of the YAML file it names, made as the
    Lambda package makes its copies."""
    rules = env.get("VALIDATION_RULES", "")
    if not rules.endswith((".yaml", ".yml")):
        return env
    source = Path(rules)
    copy = folder / source.with_suffix(".json").name
    copy.write_text(json_copy(source.name, source.read_text(encoding="utf-8"), set()), encoding="utf-8")
    return {**env, "VALIDATION_RULES": str(copy)}


def measure(env: dict[str, str], s3: Any, rounds: int = 5) -> ColdReport:
    with tempfile.TemporaryDirectory(prefix="cold-rules-") as folder:
        return _measure(rules_as_packaged(env, Path(folder)), s3, rounds)


def _measure(env: dict[str, str], s3: Any, rounds: int) -> ColdReport:
    """`2 * rounds` interleaved rounds (14 for `make bench`; the section takes 45-60 s on the 2-core
    machines). The step table and `python -c pass` are measured in `STAGED_RUNS` processes of their own,
    after the rounds."""
    child_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("NANONETS_", "AWS_"))}, **env}
    paired_rounds = 2 * rounds
    keys = [f"incoming/cold/doc-{i:03d}.pdf" for i in range(2 * paired_rounds + STAGED_RUNS + 6)]
    put_documents(s3, {key: document_bytes(pages(1, seed=i), key) for i, key in enumerate(keys)})
    key_iter = iter(keys)
    report = ColdReport(rounds=paired_rounds)
    http = json.dumps(http_event())

    def events_args() -> list[str]:
        return [_sqs_event(next(key_iter), "a"), _sqs_event(next(key_iter), "b")]

    def reference() -> None:
        out, _, wall = _child(REFERENCE, [], child_env)
        measured = _measured(out)
        report.reference.append(measured["import"] + measured["client"])
        report.reference_import.append(measured["import"])
        report.reference_client.append(measured["client"])
        report.reference_cpu.append(measured["cpu"])
        report.reference_wall.append(wall)

    def events() -> None:
        out, _, wall = _child(EVENTS, events_args(), child_env)
        measured = _measured(out)
        if not measured.pop("ok"):
            report.failures.append("events_handler did not submit cleanly")
        report.events.append(measured)
        report.events_wall.append(wall)

    def http_request() -> None:
        out, _, wall = _child(HTTP, [http], child_env)
        measured = _measured(out)
        if not measured.pop("ok"):
            report.failures.append("http_handler did not answer 200")
        report.http.append(measured)
        report.http_wall.append(wall)

    byte_compile_service()
    # warm-up (not measured): warms the OS file cache
    _child(REFERENCE, [], child_env)
    _child(EVENTS, events_args(), child_env)
    _child(HTTP, [http], child_env)
    for round_number in range(paired_rounds):
        # The events subject always launches next to its reference, before it in one round, after it in
        # the next: a machine getting busier or quieter over a round favours neither side.
        launches = (reference, events, http_request)
        for launch in launches if round_number % 2 == 0 else reversed(launches):
            launch()
    for _ in range(STAGED_RUNS):
        _, _, wall = _child("pass", [], child_env)
        report.python_startup.append(wall)
        out, _, _ = _child(STAGED, [_sqs_event(next(key_iter), "s")], child_env)
        report.breakdown.append(_measured(out))
    report.beyond_reference = modules_beyond_reference(child_env, _sqs_event(next(key_iter), "c"))
    out, _, _ = _child(LOADED, [_sqs_event(next(key_iter), "d"), json.dumps(OPTIONAL)], child_env)
    report.optional_loaded = _measured(out)["loaded"]
    return report
