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

from bench.common import cpu_seconds
from bench.stack import FLOOR_APP, SERVICE_APP, App, start_app
from bench.webhook_bench import SERVICE_PATH, _synthetic_bodies, deliver_once, floor_path, submit_pool

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
    """Each body sent once, one at a time; the app's worker CPU per webhook, in ms."""
    workers = app.workers()
    before = sum(cpu_seconds(pid) for pid in workers)
    statuses = deliver_once(app.url, bodies, path, threads=1)
    if any(status != 200 for status in statuses):
        raise RuntimeError(f"{app.name} answered {sorted(set(statuses))} in table 1b")
    return (sum(cpu_seconds(pid) for pid in workers) - before) * 1000 / len(bodies)


@dataclass(frozen=True)
class _Subject:
    spec: str  # the gunicorn app
    env: dict[str, str]
    bodies: list[bytes]
    first_path: str  # where each body is sent once before the rounds, so that every later one is a repeat
    repeat_path: str


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
    cutdown_env = {**env, "CUTDOWN_FILE_ID": json.loads(service_bodies[0])["result"][0]["request_file_id"]}
    other_bodies = _synthetic_bodies(per_round, 1, salt="gap")
    subjects = {
        "floor": _Subject(
            FLOOR_APP, floor_env, other_bodies, floor_path(1, "first"), floor_path(1, "repeat")
        ),
        "cut-down app": _Subject(CUTDOWN_APP, cutdown_env, other_bodies, SERVICE_PATH, SERVICE_PATH),
        "cut-down app, no hooks": _Subject(
            CUTDOWN_APP, {**cutdown_env, "CUTDOWN_HOOKS": "0"}, other_bodies, SERVICE_PATH, SERVICE_PATH
        ),
        "service": _Subject(SERVICE_APP, env, service_bodies, SERVICE_PATH, SERVICE_PATH),
    }
    report = GapReport(per_round=per_round, rounds=rounds)
    apps: dict[str, App] = {}
    try:
        for number, (name, subject) in enumerate(subjects.items()):
            apps[name] = start_app(f"gap-{number}", subject.spec, subject.env, workers=1, log_dir=work_dir)
            deliver_once(apps[name].url, subject.bodies, subject.first_path, threads=2)
        for round_no in range(rounds):
            names = list(subjects) if round_no % 2 == 0 else list(reversed(subjects))
            for name in names:
                subject = subjects[name]
                cpu_ms = _cpu_per_webhook(apps[name], subject.repeat_path, subject.bodies)
                report.cpu_ms.setdefault(name, []).append(round(cpu_ms, 2))
    finally:
        for app in apps.values():
            app.stop()
    return report
