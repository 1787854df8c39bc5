"""Small helpers shared by the bench sections: statistics, processes, memory, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"  # git-ignored: logs and the raw results of the last run

PACKAGES = (
    "flask",
    "werkzeug",
    "gunicorn",
    "boto3",
    "botocore",
    "pydantic",
    "pydantic-core",
    "requests",
    "moto",
    "pyinstrument",
)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> float:
    """Relative spread (max-min)/median: how noisy a set of repeats was."""
    mid = median(values)
    return (max(values) - min(values)) / mid if mid else 0.0


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Seconds per call, the best of `repeat` calls (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Machine:
    cores: int
    cpu: str
    python: str
    platform: str
    packages: dict[str, str]
    load_before: str


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def machine() -> Machine:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    wrk = "not installed"
    try:
        result = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5)
        wrk = (result.stdout or result.stderr).split("Copyright")[0].strip() or wrk
    except (OSError, subprocess.SubprocessError):
        pass
    versions["wrk"] = wrk
    return Machine(
        cores=os.cpu_count() or 0,
        cpu=cpu_model(),
        python=sys.version.split()[0],
        platform=platform.platform(),
        packages=versions,
        load_before=load_average(),
    )


# ---- processes and memory ----


def children(pid: int) -> list[int]:
    """Direct children of a process (gunicorn's workers of its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def uss_kib(pid: int) -> int:
    """Memory only this process holds (private pages): what a forked worker really adds."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    except OSError:
        return 0
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
