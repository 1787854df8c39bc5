"""Peak memory of `nanonets-ingest export` against the number of documents: constant, or not?

    .venv/bin/python -m bench.export_memory [--documents 100000] [--moto-documents 2000]

1. A directory stand-in for the analytics bucket (the storage port's get and list over files
   laid out exactly as in S3: rows/dt=YYYY-MM-DD/<digest>.jsonl) holding `--documents` documents, each
   the rows of a real sample (4-8 rows), spread over 30 days. Export in every format from a tenth of them
   and from all of them, each run in a fresh child process, which reports its peak RSS (ru_maxrss) after
   imports and at the end. Constant memory means the two peaks match whatever the count.
2. The real S3 path (boto3 paginated listing, one GET per document) against moto server with
   `--moto-documents` and a quarter of them (moto costs ~5 ms of CPU per call here, so 100k objects would
   take minutes).

Prints a table; nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DAYS = 30
FORMATS = ("csv", "jsonl", "parquet")


# ---------------------------------------------------------------- the stand-in source


@dataclass(frozen=True)
class Listed:
    key: str


@dataclass(frozen=True)
class Stored:
    body: bytes


class DirectorySource:
    """The storage port's reads (get, list) over a folder laid out like the bucket (keys: relative paths)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, bucket: str, key: str) -> Stored | None:
        path = self.root / key
        return Stored(path.read_bytes()) if path.exists() else None

    def list(
        self, bucket: str, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> Iterator[Listed]:
        """Keys in S3's order, one folder's names in memory at a time (as S3 pages are)."""
        for key in self._keys(prefix):
            if start_after is None or key > start_after:
                yield Listed(key)

    def _keys(self, folder: str) -> Iterator[str]:
        for name in sorted(entry.name for entry in os.scandir(self.root / folder)):
            if (self.root / folder / name).is_dir():
                yield from self._keys(f"{folder}{name}/")
            else:
                yield f"{folder}{name}"


# ---------------------------------------------------------------- the dataset


def sample_row_blocks() -> list[bytes]:
    """The JSON Lines of each sample document, as the analytics writer would store them."""
    from scripts.make_samples import SAMPLE_DOCUMENTS, webhook_bodies
    from service.core.analytics import rows_jsonl
    from service.core.normalize import normalize_file
    from service.core.payloads import parse_payload
    from service.models.document import SourceRef

    blocks = []
    for sample in SAMPLE_DOCUMENTS:
        [prediction] = parse_payload(webhook_bodies(sample)["prediction-result.json"])
        document = normalize_file(
            prediction,
            source=SourceRef(bucket="in", key=sample.key),
            model_id="emulator-model",
            rules=None,
            review="pending",
            processed_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
        blocks.append(rows_jsonl(document, sample.route))
    return blocks


def document_objects(count: int) -> Iterator[tuple[str, bytes]]:
    """(key, body) of `count` documents: rows of a sample with the document key made unique."""
    import hashlib

    blocks = sample_row_blocks()
    first = date(2026, 11, 1)
    for n in range(count):
        block = blocks[n % len(blocks)]
        key = f"incoming/bench/doc-{n:06d}.pdf"
        body = b"".join(_with_key(line, key) for line in block.splitlines(keepends=True))
        day = first + timedelta(days=n % DAYS)
        digest = hashlib.sha256(f"in\n{key}".encode()).hexdigest()
        yield f"analytics/rows/dt={day.isoformat()}/{digest}.jsonl", body


def _with_key(line: bytes, key: str) -> bytes:
    row = json.loads(line)
    row["document_key"] = key
    return json.dumps(row, ensure_ascii=False).encode() + b"\n"


def write_directory(root: Path, count: int) -> None:
    for key, body in document_objects(count):
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def write_moto(url: str, count: int) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    s3.create_bucket(Bucket="bench-out")
    for key, body in document_objects(count):
        s3.put_object(Bucket="bench-out", Key=key, Body=body)


# ---------------------------------------------------------------- one export, in a child process


def child(args: argparse.Namespace) -> int:
    from service.adapters.s3.analytics import S3AnalyticsDataset
    from service.adapters.s3.bucket import StateBucket
    from service.cli.export import export_rows
    from service.ports import ExportSummary

    if args.format == "parquet":
        import pyarrow.parquet  # noqa: F401 - counted in the baseline, like the other imports
    if args.s3_url:
        import boto3

        from service.adapters.s3.objects import S3ObjectStore

        source: Any = S3ObjectStore(boto3.client("s3", endpoint_url=args.s3_url, region_name="us-east-1"))
    else:
        source = DirectorySource(Path(args.dir))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = ExportSummary()
    dataset = S3AnalyticsDataset(
        source,
        output_bucket="bench-out",
        analytics_prefix="analytics/",
        state=StateBucket(source, "bench-out", "_state/"),
    )
    rows = export_rows(dataset.rows(summary=summary), args.format, args.out)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "rows": rows,
        "documents": summary.documents,
        "seconds": seconds,
        "baseline_mb": baseline / 1024,
        "peak_mb": peak / 1024,
        "file_mb": Path(args.out).stat().st_size / 1e6,
    }
    print(json.dumps(result))
    return 0


def run_child(
    fmt: str, out: Path, *, directory: Path | None = None, s3_url: str | None = None
) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.export_memory", "child", "--format", fmt, "--out", str(out)]
    argv += ["--dir", str(directory)] if directory else ["--s3-url", str(s3_url)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------- the bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    one = sub.add_parser("child")
    one.add_argument("--format", choices=FORMATS, required=True)
    one.add_argument("--out", required=True)
    one.add_argument("--dir")
    one.add_argument("--s3-url")
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--moto-documents", type=int, default=800)
    args = parser.parse_args(argv)
    if args.mode == "child":
        return child(args)

    work = Path(tempfile.mkdtemp(prefix="export-bench-"))
    headers = ("source", "docs", "format", "rows", "secs", "base MB", "peak MB", "file MB")
    print("{:<10} {:>7} {:<8} {:>8} {:>6} {:>8} {:>8} {:>8}".format(*headers))
    try:
        for count in (args.documents // 10, args.documents):
            root = work / f"dir-{count}"
            started = time.perf_counter()
            write_directory(root, count)
            print(
                f"# wrote {count} documents to a folder in {time.perf_counter() - started:.1f}s", flush=True
            )
            for fmt in FORMATS:
                _show("folder", count, fmt, run_child(fmt, work / f"out.{fmt}", directory=root))
            shutil.rmtree(root)
        if args.moto_documents:
            _moto_section(work, args.moto_documents)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _moto_section(work: Path, count: int) -> None:
    sys.path.insert(0, str(REPO))
    import requests

    from devtools.stack import AWS_TEST_ENV, start_moto

    os.environ.update(AWS_TEST_ENV)
    moto = start_moto()
    try:
        for documents in (count // 4, count):
            requests.post(moto.url + "/moto-api/reset", timeout=10)
            started = time.perf_counter()
            write_moto(moto.url, documents)
            print(
                f"# wrote {documents} documents to moto in {time.perf_counter() - started:.1f}s", flush=True
            )
            for fmt in FORMATS:
                _show("moto S3", documents, fmt, run_child(fmt, work / f"out.{fmt}", s3_url=moto.url))
    finally:
        moto.stop()


def _show(source: str, count: int, fmt: str, result: dict[str, Any]) -> None:
    print(
        f"{source:<10} {count:>7} {fmt:<8} {result['rows']:>8} {result['seconds']:>6.1f} "
        f"{result['baseline_mb']:>8.1f} {result['peak_mb']:>8.1f} {result['file_mb']:>8.1f}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
