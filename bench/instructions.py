"""Instructions per webhook, service against floor, counted by valgrind (callgrind): a measure that does not
move with the machine.

Table 1's req/s and worker CPU move by 10-30% between runs on a shared VM (the floor alone, by up to 70%
between rounds), which hides differences of a millisecond. Instructions executed do not move. For each
case (one-page and ten-page first deliveries, one-page repeats) the service's Flask app and the floor
(bench/floor_app.py) answer webhooks in process, through the Flask test client, against bench/s3stub.py
and the emulator, each in a fresh interpreter under `valgrind --tool=callgrind`, twice: after one warm-up
webhook with none after it, and with `--webhooks` more. The difference over `--webhooks` is one webhook's
instructions, start-up and first-use costs taken out. Gunicorn's share (HTTP parsing, the access line)
and the S3 server's own work are the same on both sides and are not counted, so the ratio here is the
service's own work seen without noise, not table 1's ratio.

    .venv/bin/python -m bench.instructions [--webhooks 20]      (about 15 minutes on 2 cores)

Needs valgrind on PATH. Not part of `make bench`: it takes longer than the whole bench. Results and how to
read them: bench/NOTES.md, "Goal by goal", item 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO
from bench.floor_app import read_plans, seed, write_plans
from bench.stack import (
    FLOOR_BUCKET,
    INPUT_BUCKET,
    OUTPUT_BUCKET,
    create_buckets,
    in_process_client,
    in_process_service,
    s3_client,
    service_env,
    start_s3stub,
)
from bench.webhook_bench import _synthetic_bodies, count_s3_calls, submit_pool
from devtools.emulator.control import EmulatorControl
from devtools.stack import TEST_SECRET, start_emulator

TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")


@dataclass(frozen=True)
class Case:
    name: str
    pages: int
    delivery: str  # "first" or "repeat"


CASES = (
    Case("1-page first delivery", 1, "first"),
    Case("10-page first delivery", 10, "first"),
    Case("1-page repeat", 1, "repeat"),
)


def _child(app: str, bodies_file: Path, env_file: Path, plan: str) -> None:
    """In the valgrind'd interpreter: every body in the file, in order, through the app in process."""
    env = json.loads(env_file.read_text())
    bodies = json.loads(bodies_file.read_text())
    if app == "floor":
        os.environ.update(env)
        from bench.floor_app import create_app as floor_app

        _deliver(floor_app().test_client(), f"/webhooks/nanonets?plan={plan}", bodies)
    else:
        with in_process_client(env) as client:  # its log lines are formatted (their cost counts)
            _deliver(client, "/webhooks/nanonets", bodies)


def _deliver(client: Any, path: str, bodies: list[str]) -> None:
    headers = {"Content-Type": "application/json", "X-Webhook-Token": TEST_SECRET}
    for body in bodies:
        answer = client.post(path, data=body.encode(), headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.data[:300]!r}")


def _instructions(work: Path, label: str, app: str, bodies: list[bytes], plan: str) -> int:
    """Instructions of a fresh interpreter that starts `app` and answers `bodies`."""
    bodies_file = work / f"{label}.json"
    bodies_file.write_text(json.dumps([body.decode() for body in bodies]))
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={work / ('cg.' + label)}",
        sys.executable,
        "-m",
        "bench.instructions",
        "--child",
        app,
        str(bodies_file),
        str(work / "env.json"),
        plan,
    ]
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    found = TOTAL.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{label}: valgrind run failed\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def measure(webhooks: int) -> list[dict[str, object]]:
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    stub = start_s3stub(work)
    emulator = start_emulator(log_dir=work)
    try:
        EmulatorControl(emulator.url).config(webhooks_enabled=False)
        s3 = s3_client(stub.url)
        create_buckets(s3, (INPUT_BUCKET, OUTPUT_BUCKET, FLOOR_BUCKET))
        env = service_env(stub.url, emulator.url)
        pipeline = in_process_service(env)
        plans = write_plans(
            work / "plan.json", count_s3_calls(env, stub.url, pipeline, s3, emulator.url).service
        )
        seed(s3, FLOOR_BUCKET, read_plans(plans))
        (work / "env.json").write_text(
            json.dumps({**env, "FLOOR_BUCKET": FLOOR_BUCKET, "FLOOR_PLAN": str(plans)})
        )
        runs: dict[str, tuple[str, list[bytes], str]] = {}
        for case in CASES:
            plan = f"{case.pages}-{case.delivery}"
            tag = f"ins-{case.pages}"
            if case.delivery == "first":  # every body a file of its own, each delivered once
                service = submit_pool(
                    pipeline, s3, emulator.url, count=webhooks + 2, n_pages=case.pages, tag=tag
                )
                floor = _synthetic_bodies(webhooks + 2, case.pages, salt=tag)
                runs[f"{plan}-service-0"] = ("service", service[:1], plan)
                runs[f"{plan}-service-n"] = ("service", service[1:], plan)
                runs[f"{plan}-floor-0"] = ("floor", floor[:1], plan)
                runs[f"{plan}-floor-n"] = ("floor", floor[1:], plan)
            else:  # the first-delivery bodies of the same size again: every file is done by now
                first = runs[f"{case.pages}-first-service-n"][1]
                floor = runs[f"{case.pages}-first-floor-n"][1]
                runs[f"{plan}-service-0"] = ("service", first[:1], plan)
                runs[f"{plan}-service-n"] = ("service", first[: webhooks + 1], plan)
                runs[f"{plan}-floor-0"] = ("floor", floor[:1], plan)
                runs[f"{plan}-floor-n"] = ("floor", floor[: webhooks + 1], plan)
        # First deliveries before repeats: a repeat's file must be done when its run starts.
        order = [label for label in runs if "first" in label] + [label for label in runs if "repeat" in label]
        totals: dict[str, int] = {}
        for batch in (order[i : i + 2] for i in range(0, len(order), 2)):
            with ThreadPoolExecutor(2) as pool:
                for label, total in zip(
                    batch, pool.map(lambda lb: _instructions(work, lb, *runs[lb]), batch), strict=True
                ):
                    totals[label] = total
    finally:
        stub.popen.kill()
        emulator.popen.kill()
    results = []
    for case in CASES:
        plan = f"{case.pages}-{case.delivery}"
        per = {
            app: (totals[f"{plan}-{app}-n"] - totals[f"{plan}-{app}-0"]) / webhooks
            for app in ("service", "floor")
        }
        results.append(
            {
                "case": case.name,
                "service": per["service"],
                "floor": per["floor"],
                "floor_over_service": per["floor"] / per["service"],
            }
        )
    shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhooks", type=int, default=20, help="webhooks measured per run (default 20)")
    parser.add_argument("--child", nargs=4, metavar=("APP", "BODIES", "ENV", "PLAN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        app, bodies_file, env_file, plan = args.child
        _child(app, Path(bodies_file), Path(env_file), plan)
        return 0
    if shutil.which("valgrind") is None:
        print("bench.instructions: valgrind is not installed", file=sys.stderr)
        return 2
    print("| webhook | service, instructions | floor, instructions | floor / service |")
    print("| --- | ---: | ---: | ---: |")
    for row in measure(args.webhooks):
        print(
            f"| {row['case']} | {row['service'] / 1e6:.2f} M | {row['floor'] / 1e6:.2f} M "
            f"| {row['floor_over_service']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
