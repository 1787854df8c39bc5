"""The `nanonets-ingest` command. Errors become exit codes in `cli.exit_codes`, nowhere else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from service.cli.exit_codes import EXIT_INTERRUPTED, exit_code_for, human_sentence
from service.errors import IngestError, UsageError
from service.settings import SettingsError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanonets-ingest",
        description="S3 drop folder -> Nanonets OCR -> validated, normalized JSON.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Imported here so `nanonets-ingest api ...` does not pay for boto3/flask, and vice versa.
    from service.cli import api, ops, review

    ops.add_commands(commands)
    api.add_commands(commands)
    review.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (IngestError, SettingsError, UsageError) as error:
        print(f"nanonets-ingest: {human_sentence(error)}", file=sys.stderr)
        return exit_code_for(error)


if __name__ == "__main__":
    sys.exit(main())
