"""`nanonets-ingest export --format csv|jsonl|parquet [--since DATE] [--route NAME] -o FILE`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING

from service.export import FORMATS, ExportSummary, export_rows, import_pyarrow, iter_rows

if TYPE_CHECKING:
    from service.adapters.s3_objects import ObjectStore
    from service.settings import Settings

Commands = argparse._SubParsersAction  # a private name, but the only type add_subparsers() has


def register(commands: Commands[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        help="the analytics dataset (one row per field / table row) as CSV, JSON Lines or Parquet",
    )
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument(
        "--since",
        type=_day,
        metavar="DATE",
        help="only documents first processed on or after DATE (YYYY-MM-DD)",
    )
    export.add_argument("--route", metavar="NAME", help="only rows of this route")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="'-' for standard output")
    export.set_defaults(handler=export_command)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _object_store(settings: Settings) -> ObjectStore:
    # After the issue-12 merge: the S3ObjectStore that service.bootstrap builds.
    from service.adapters.s3_objects import S3Objects
    from service.adapters.storage import build_s3_client

    return S3Objects(build_s3_client(settings))


def export_command(args: argparse.Namespace) -> int:
    if args.format == "parquet":
        import_pyarrow()  # before settings and S3: the missing extra is the first thing to say
    from service.settings import load_settings

    settings = load_settings()
    summary = ExportSummary()
    rows = iter_rows(
        _object_store(settings),
        settings.output_bucket,
        settings.analytics_prefix,
        since=args.since,
        route=args.route,
        summary=summary,
    )
    written = export_rows(rows, args.format, args.output)
    where = "standard output" if args.output == "-" else args.output
    print(
        f"exported {written} rows of {summary.documents} documents ({summary.partitions} days) to {where}",
        file=sys.stderr,
    )
    return 0
