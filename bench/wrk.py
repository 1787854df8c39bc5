"""Running wrk with bench/webhook.lua, and making sure wrk is there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.common import log

SCRIPT = Path(__file__).with_name("webhook.lua")


def ensure_wrk() -> str:
    """wrk from Debian's packages: found on PATH, else installed with apt-get (we run as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk not found: trying `apt-get install -y wrk`")
    apt = shutil.which("apt-get")
    if apt:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            [apt, "install", "-y", "-q", "wrk"],
            [apt, "update", "-q"],
            [apt, "install", "-y", "-q", "wrk"],
        ):
            subprocess.run(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
            )
            found = shutil.which("wrk")
            if found:
                return found
    raise SystemExit(
        "bench: the load generator `wrk` is not installed and `apt-get install -y wrk` did not work.\n"
        "Install it (Debian/Ubuntu: `sudo apt-get install -y wrk`) and run `make bench` again."
    )


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    sent: int
    max_sent: int  # the most one wrk thread sent: lines up to threads * max_sent may have been used
    first: int  # requests that delivered a body for the first time in this run
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def first_share(self) -> float:
        return self.first / self.sent if self.sent else 0.0


def run_wrk(
    url: str,
    *,
    bodies_file: Path,
    path: str,
    token: str,
    seconds: float,
    threads: int = 2,
    connections: int = 16,
) -> WrkResult:
    env = {
        **os.environ,
        "BENCH_BODIES_FILE": str(bodies_file),
        "BENCH_THREADS": str(threads),
        "BENCH_PATH": path,
        "BENCH_TOKEN": token,
    }
    command = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        url,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"BENCH_RESULT (.*)", result.stdout)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    values = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    return WrkResult(
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        sent=values["sent"],
        max_sent=values["max_sent"],
        first=values["first"],
        non2xx=values["non2xx"],
        socket_errors=sum(
            values[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout")
        ),
        p50_ms=values["p50_us"] / 1000,
        p90_ms=values["p90_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        max_ms=values["max_us"] / 1000,
    )
