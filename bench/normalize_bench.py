"""Table 2: normalization scaling, against `json.loads` of the same bytes.

For webhook bodies of 1, 10, 100 and 1,000 pages (bench/payloads.py: 4 fields and a 3x3 table per page):
- reference: `json.loads(body)`;
- normalize + validate: `parse_payload_bytes(body)` (what `CompleteFile.parse_archived` runs on a
  webhook: the body validated once into the lean view of service/models/nanonets_lean.py) then
  `normalize_file(..., rules=samples/rules/fuel-receipts.yaml)` (which validates by the rules);
- the whole CPU path of a webhook, for context: the above + `document_digest` + `to_json_bytes`.

Times are CPU time (`time.process_time`), the best of several rounds, reference and subject measured in
the same round. Peak memory is tracemalloc's peak while processing (the body itself is
allocated before), in its own pass (tracing slows everything down). tracemalloc sees only Python's
allocator, not what pydantic-core allocates in Rust while it validates the bytes (its parsed JSON
tree), so the 1,000-page body is also measured by the process's peak resident set: in a fresh process per
subject, after a warm-up on a 1-page body, the growth of VmHWM (reset through /proc/self/clear_refs)
while the subject runs and its result is still held. The garbage collector stays on, as in
the service (which holds it off itself inside parse_payload_bytes and normalize_file); the subject is also
timed with the GC off throughout and after `gc.freeze()` (start-up objects moved out of the collector's
way), and, for reference, the full payload models' validation from a dict against `model_validate_json`.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bench.payloads import body_bytes, pages, webhook_body
from bench.stack import RULES
from service.core.digest import document_digest
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload_bytes
from service.core.rules import load_rules
from service.models.document import NormalizedDocument, SourceRef
from service.models.nanonets import PredictionResponse

SIZES = (1, 10, 100, 1000)
SOURCE = SourceRef(bucket="ingest-in", key="incoming/batch.pdf", etag="0123456789abcdef")
METADATA = json.dumps({"bucket": "ingest-in", "key": "incoming/batch.pdf", "etag": "0123456789abcdef"})


@dataclass
class Row:
    pages: int
    body_bytes: int
    loads_s: float  # the reference: json.loads(body)
    normalize_s: float  # the subject: bytes → validated, normalized document (includes its own json.loads)
    full_s: float  # + digest + output JSON: the whole CPU path of a first-delivery webhook
    normalize_nogc_s: float  # the subject with the garbage collector off (diagnostic)
    normalize_frozen_s: float  # the subject after gc.freeze() (what start-up objects cost the collector)
    stages_s: dict[str, float]  # parse_payload, normalize_file, digest, to_json_bytes, each alone
    loads_peak: int
    normalize_peak: int
    loads_rss: int | None = None  # peak RSS growth in a fresh process (bytes; the largest body only)
    normalize_rss: int | None = None

    @property
    def ratio(self) -> float:
        return self.normalize_s / self.loads_s

    @property
    def full_ratio(self) -> float:
        return self.full_s / self.loads_s

    def per_page_us(self, seconds: float) -> float:
        return seconds / self.pages * 1e6

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "full_ratio": self.full_ratio}


def _normalize(body: bytes, rules: Any) -> NormalizedDocument:
    (prediction,) = parse_payload_bytes(body)  # what CompleteFile.parse_archived runs on a webhook
    return normalize_file(
        prediction,
        source=SOURCE,
        model_id="emulator-model",
        rules=rules,
        review="pending",
        processed_at=datetime(2026, 11, 25, tzinfo=UTC),
    )


def _full(body: bytes, rules: Any) -> bytes:
    document = _normalize(body, rules)
    document_digest(document)
    return document.to_json_bytes()


def _per_call(fn: Callable[[], object], calls: int) -> float:
    """CPU seconds per call (time.process_time: another process taking the core does not count)."""
    started = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - started) / calls


def _peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak


RSS_PAGES = 1000
_RSS_SUBJECTS: dict[str, Callable[[bytes, Any], object]] = {
    "loads": lambda body, rules: json.loads(body),
    "normalize": lambda body, rules: _normalize(body, rules),
}


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1])


def _rss_growth_here(subject: str, n_pages: int) -> int:
    """Bytes the resident set grows by, at its peak, while `subject` runs on an n-page body (this process)."""
    rules = load_rules(RULES)
    run = _RSS_SUBJECTS[subject]
    run(body_for(1), rules)  # first-use costs (caches, compiled schemas) are not the body's
    body = body_for(n_pages)
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # resets VmHWM to the current RSS
    before = _status_kib("VmRSS")
    result = run(body, rules)
    growth = (_status_kib("VmHWM") - before) * 1024
    del result
    return growth


def rss_growth(subject: str, n_pages: int = RSS_PAGES) -> int | None:
    """`_rss_growth_here` in a fresh interpreter, so no earlier run's freed memory is reused; None where
    /proc cannot say (not Linux)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.normalize_bench", "--rss", subject, str(n_pages)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return int(done.stdout.split()[-1])


def body_for(n_pages: int) -> bytes:
    return body_bytes(
        webhook_body("5f1c2a9e-8d1b-4c5e-9b7a-0c6f3e2d1a00", pages(n_pages), METADATA, "batch.pdf")
    )


def measure(rounds: int = 7, budget_s: float = 0.05) -> list[Row]:
    rules = load_rules(RULES)
    rows = []
    for n_pages in SIZES:
        body = body_for(n_pages)
        _full(body, rules)  # warm: first-use costs (pydantic, regexes) are not per-page costs
        (prediction,) = parse_payload_bytes(body)
        document = _normalize(body, rules)
        calls = max(1, int(budget_s / max(_per_call(lambda b=body: _full(b, rules), 1), 1e-6)))
        subjects: dict[str, Callable[[], object]] = {
            "loads": lambda b=body: json.loads(b),
            "normalize": lambda b=body: _normalize(b, rules),
            "full": lambda b=body: _full(b, rules),
            "parse_payload": lambda b=body: parse_payload_bytes(b),
            "normalize_file": lambda p=prediction: normalize_file(
                p,
                source=SOURCE,
                model_id="emulator-model",
                rules=rules,
                review="pending",
                processed_at=datetime(2026, 11, 25, tzinfo=UTC),
            ),
            "document_digest": lambda d=document: document_digest(d),
            "to_json_bytes": lambda d=document: d.to_json_bytes(),
            # for reference: the full payload models, validated from a dict or straight from the bytes
            "validate_dict": lambda b=body: PredictionResponse.model_validate(json.loads(b)),
            "validate_json": lambda b=body: PredictionResponse.model_validate_json(b),
        }
        best = dict.fromkeys([*subjects, "nogc", "frozen"], float("inf"))
        for _ in range(rounds):  # interleaved, so a disturbance hits reference and subject alike
            for name, fn in subjects.items():
                best[name] = min(best[name], _per_call(fn, calls * (3 if name == "loads" else 1)))
            gc.disable()
            try:
                best["nogc"] = min(best["nogc"], _per_call(subjects["normalize"], calls))
            finally:
                gc.enable()
            gc.freeze()
            try:
                best["frozen"] = min(best["frozen"], _per_call(subjects["normalize"], calls))
            finally:
                gc.unfreeze()
        rows.append(
            Row(
                pages=n_pages,
                body_bytes=len(body),
                loads_s=best["loads"],
                normalize_s=best["normalize"],
                full_s=best["full"],
                normalize_nogc_s=best["nogc"],
                normalize_frozen_s=best["frozen"],
                stages_s={
                    k: best[k]
                    for k in (
                        "parse_payload",
                        "normalize_file",
                        "document_digest",
                        "to_json_bytes",
                        "validate_dict",
                        "validate_json",
                    )
                },
                loads_peak=_peak(lambda b=body: json.loads(b)),
                normalize_peak=_peak(lambda b=body: _normalize(b, rules)),
                loads_rss=rss_growth("loads") if n_pages == RSS_PAGES else None,
                normalize_rss=rss_growth("normalize") if n_pages == RSS_PAGES else None,
            )
        )
    return rows


if __name__ == "__main__":
    # python -m bench.normalize_bench --rss SUBJECT PAGES: one measure, in this fresh process
    if len(sys.argv) == 4 and sys.argv[1] == "--rss":
        print(_rss_growth_here(sys.argv[2], int(sys.argv[3])))
