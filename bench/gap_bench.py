"""Table 1b: where the stand-in's gap between service and floor goes, on one-page repeats.

Four apps under gunicorn with the service's config, one sync worker each, against bench/s3stub.py:
- the floor (bench/floor_app.py) replaying a repeat's counted S3 calls;
- the service's own app with its webhook view cut down to those two calls through the service's adapters
  (bench/cutdown_app.py), with and without the app's before/after-request hooks;
- the service, on repeats of webhooks it completed.
Webhooks are sent one at a time (no queueing, no wrk), `ROUNDS` interleaved rounds of `PER_ROUND` each,
the apps taking turns within a round; the figure is each app's median over the rounds of its worker's
CPU time per webhook (/proc), so what another process does to the machine disturbs it least. Table 1
says how far apart service and floor are; this table says which layer the distance is in.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.common import cpu_seconds
from bench.stack import FLOOR_APP, SERVICE_APP, App, start_app
from bench.webhook_bench import SERVICE_PATH, _synthetic_bodies, deliver_once, submit_pool
from devtools.stack import TEST_SECRET

ROUNDS = 5
PER_ROUND = 120
CUTDOWN_APP = "bench.cutdown_app:create_app()"


@dataclass
class GapReport:
    per_round: int
    rounds: int
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # app → worker CPU ms per webhook, per round

    def median(self, app: str) -> float:
        return statistics.median(self.cpu_ms[app])

    def as_dict(self) -> dict[str, Any]:
        return {
            "per_round": self.per_round,
            "rounds": self.rounds,
            "cpu_ms": self.cpu_ms,
            "medians": {app: self.median(app) for app in self.cpu_ms},
        }


def _cpu_per_webhook(app: App, path: str, bodies: list[bytes]) -> float:
    session = requests.Session()
    headers = {"Content-Type": "application/json", "X-Webhook-Token": TEST_SECRET}
    workers = app.workers()
    before = sum(cpu_seconds(pid) for pid in workers)
    for body in bodies:
        status = session.post(app.url + path, data=body, headers=headers, timeout=30).status_code
        if status != 200:
            raise RuntimeError(f"{app.name} answered {status} in table 1b")
    return (sum(cpu_seconds(pid) for pid in workers) - before) * 1000 / len(bodies)


def measure(
    env: dict[str, str],
    floor_env: dict[str, str],
    pipeline: Any,
    s3: Any,
    emulator_url: str,
    work_dir: Path,
    *,
    rounds: int = ROUNDS,
    per_round: int = PER_ROUND,
) -> GapReport:
    """`env`/`floor_env`: the service's and the floor's environments of table 1 on the stand-in."""
    service_bodies = submit_pool(pipeline, s3, emulator_url, count=per_round, n_pages=1, tag="gap")
    file_id = json.loads(service_bodies[0])["result"][0]["request_file_id"]
    other_bodies = _synthetic_bodies(per_round, 1, salt="gap")
    apps = {
        "floor": (start_app("gap-floor", FLOOR_APP, floor_env, workers=1, log_dir=work_dir), "floor"),
        "cut-down app": (
            start_app(
                "gap-cutdown", CUTDOWN_APP, {**env, "CUTDOWN_FILE_ID": file_id}, workers=1, log_dir=work_dir
            ),
            SERVICE_PATH,
        ),
        "cut-down app, no hooks": (
            start_app(
                "gap-cutdown-nohooks",
                CUTDOWN_APP,
                {**env, "CUTDOWN_FILE_ID": file_id, "CUTDOWN_HOOKS": "0"},
                workers=1,
                log_dir=work_dir,
            ),
            SERVICE_PATH,
        ),
        "service": (start_app("gap-service", SERVICE_APP, env, workers=1, log_dir=work_dir), SERVICE_PATH),
    }
    report = GapReport(per_round=per_round, rounds=rounds)
    try:
        for name, (app, path) in apps.items():  # every body once: from now on each is a repeat
            bodies = service_bodies if name == "service" else other_bodies
            deliver_once(app.url, bodies, "/webhooks/nanonets?plan=1-first" if path == "floor" else path, 2)
        for round_no in range(rounds):
            order = list(apps.items()) if round_no % 2 == 0 else list(reversed(apps.items()))
            for name, (app, path) in order:
                bodies = service_bodies if name == "service" else other_bodies
                where = "/webhooks/nanonets?plan=1-repeat" if path == "floor" else path
                report.cpu_ms.setdefault(name, []).append(round(_cpu_per_webhook(app, where, bodies), 2))
    finally:
        for app, _ in apps.values():
            app.stop()
    return report
