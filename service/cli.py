"""The `nanonets-ingest` command. Errors are mapped to exit codes here and nowhere else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from service.errors import (
    IngestError,
    NanonetsAuthError,
    NanonetsBadRequest,
    NanonetsNotFound,
    NanonetsQuotaExceeded,
    NanonetsRateLimited,
    NanonetsUnavailable,
    PayloadRejected,
    StorageUnavailable,
    UsageError,
)
from service.settings import SettingsError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH_OR_QUOTA = 3
EXIT_NOT_FOUND = 4
EXIT_UNAVAILABLE = 5

Handler = Callable[[argparse.Namespace], int]


def exit_code_for(error: BaseException) -> int:
    """The one mapping from error types to exit codes."""
    if isinstance(error, UsageError | SettingsError | NanonetsBadRequest | PayloadRejected):
        return EXIT_USAGE
    if isinstance(error, NanonetsAuthError | NanonetsQuotaExceeded):
        return EXIT_AUTH_OR_QUOTA
    if isinstance(error, NanonetsNotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, NanonetsRateLimited | NanonetsUnavailable | StorageUnavailable):
        return EXIT_UNAVAILABLE
    return EXIT_FAILURE


def human_sentence(error: BaseException) -> str:
    if isinstance(error, NanonetsAuthError):
        return f"Nanonets refused the API key: check NANONETS_API_KEY ({error})"
    if isinstance(error, NanonetsQuotaExceeded):
        return f"Nanonets says the plan's free calls are used up ({error})"
    return str(error) or type(error).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanonets-ingest",
        description="S3 drop folder -> Nanonets OCR -> validated, normalized JSON.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Imported here so `nanonets-ingest api ...` does not pay for boto3/flask, and vice versa.
    from service import cli_api, cli_export, cli_ops

    cli_ops.add_commands(commands)
    cli_export.register(commands)
    cli_api.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (IngestError, SettingsError, UsageError) as error:
        print(f"nanonets-ingest: {human_sentence(error)}", file=sys.stderr)
        return exit_code_for(error)


if __name__ == "__main__":
    sys.exit(main())
