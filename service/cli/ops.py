"""Operations subcommands: serve, submit, backfill, reconcile, replay, quarantine, status."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.errors import UsageError

if TYPE_CHECKING:
    from service.bootstrap import Service

Commands = argparse._SubParsersAction  # a private name, but the only type add_subparsers() has


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server is meant to listen
    serve.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="default: $PORT or 8000"
    )
    serve.add_argument("--workers", type=int, default=None, help="default: 2 x CPU + 1")
    serve.set_defaults(handler=run_serve)

    submit = commands.add_parser("submit", help="submit one object now, as an S3 event would")
    submit.add_argument("url", metavar="s3://bucket/key")
    submit.set_defaults(handler=run_submit)

    backfill = commands.add_parser("backfill", help="submit every eligible object under a prefix")
    backfill.add_argument("url", metavar="s3://bucket/prefix/")
    backfill.add_argument("--dry-run", action="store_true", help="list what would be submitted")
    backfill.add_argument("--rate", type=float, default=2.0, help="submissions per second (default 2)")
    backfill.add_argument("--no-progress", action="store_true")
    backfill.set_defaults(handler=run_backfill)

    reconcile = commands.add_parser("reconcile", help="complete submissions whose webhook has not come")
    reconcile.add_argument("--older-than", type=int, default=None, metavar="SECONDS")
    reconcile.add_argument("--limit", type=int, default=None)
    reconcile.set_defaults(handler=run_reconcile)

    replay = commands.add_parser("replay", help="reprocess archived raw webhook bodies")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true")
    which.add_argument("--request-file-id")
    which.add_argument("--since", metavar="ISO", help="e.g. 2026-01-01T00:00:00Z")
    replay.set_defaults(handler=run_replay)

    quarantine = commands.add_parser("quarantine", help="list, show or retry quarantined inputs")
    actions = quarantine.add_subparsers(dest="action", required=True)
    q_list = actions.add_parser("list")
    q_list.add_argument("--json", action="store_true")
    q_list.set_defaults(handler=run_quarantine_list)
    q_show = actions.add_parser("show")
    q_show.add_argument("id")
    q_show.set_defaults(handler=run_quarantine_show)
    q_retry = actions.add_parser("retry")
    q_retry.add_argument("id", nargs="+")
    q_retry.set_defaults(handler=run_quarantine_retry)

    status = commands.add_parser("status", help="counts by state, oldest pending, last webhook")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=run_status)


def build_service() -> Service:
    """The service for one command, logging quieter than the server's."""
    from service.bootstrap import build, configure_service_logging
    from service.settings import load_settings

    settings = load_settings()
    # Quieter than the server: a command prints its own results; LOG_LEVEL=INFO shows the rest.
    configure_service_logging(settings, os.environ.get("LOG_LEVEL", "WARNING"))
    return build(settings)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def run_serve(args: argparse.Namespace) -> int:
    from service.core.routes import load_routes
    from service.settings import load_settings

    settings = load_settings()  # fail here, in one line, rather than in every worker
    settings.require_webhook_secret()
    load_routes(settings)  # a bad routes or rules file stops start-up the same way
    from service.serve import gunicorn_argv

    argv = gunicorn_argv(f"{args.host}:{args.port}", workers=args.workers)
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with gunicorn
    return 0  # pragma: no cover


def run_submit(args: argparse.Namespace) -> int:
    from service.cli.exit_codes import exit_code_for_failed_submission
    from service.core.keys import parse_s3_url
    from service.models.source import SourceRef

    bucket, key = _s3_url(args.url, parse_s3_url)
    if not key or key.endswith("/"):
        raise UsageError(f"{args.url} names a prefix, not an object (use backfill for prefixes)")
    outcome = build_service().submit.submit(SourceRef(bucket=bucket, key=key))
    _print_json(outcome.model_dump(exclude_none=True))
    return 0 if outcome.status != "failed" else exit_code_for_failed_submission(outcome.retryable)


def _s3_url(url: str, parse: Any) -> tuple[str, str]:

    try:
        bucket, key = parse(url)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return str(bucket), str(key)


def run_backfill(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from service.core.keys import parse_s3_url
    from service.usecases.recover import summarize_backfill

    if args.rate <= 0:
        raise UsageError("--rate must be a positive number of submissions per second")
    bucket, prefix = _s3_url(args.url, parse_s3_url)
    service = build_service()
    progress = tqdm(unit="obj", desc="backfill", disable=args.no_progress or None, file=sys.stderr)

    def on_item(item: Any) -> None:
        progress.update(1)
        progress.set_postfix_str(item.status, refresh=False)
        if args.dry_run and item.status == "would_submit":
            progress.write(f"would submit s3://{bucket}/{item.key}")
        elif item.status == "failed":
            progress.write(f"failed s3://{bucket}/{item.key}: {item.reason}")

    items = service.recovery.backfill(bucket, prefix, dry_run=args.dry_run, rate_per_second=args.rate)
    summary = summarize_backfill(items, on_item)
    progress.close()
    print(summary.line())
    return 0 if summary.failed == 0 else 1


def run_reconcile(args: argparse.Namespace) -> int:
    service = build_service()
    settings = service.settings
    older_than = settings.reconcile_older_than_seconds if args.older_than is None else args.older_than
    limit = args.limit or settings.reconcile_batch_limit
    summary = service.recovery.reconcile(older_than_seconds=older_than, limit=limit)
    print(summary.line())
    return 0 if summary.errors == 0 else 1


def run_replay(args: argparse.Namespace) -> int:
    since = _parse_since(args.since) if args.since else None
    results = build_service().recovery.replay(request_file_id=args.request_file_id, since=since)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        if result.outcome != "unchanged":
            file_id = result.request_file_id or "-"
            print(f"{result.outcome:12} {file_id}  {result.raw_key}  {result.reason or ''}")
    print("replayed: " + (" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing"))
    return 0


def _parse_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since wants an ISO time such as 2026-01-01T00:00:00Z, not {text!r}") from None
    if moment.tzinfo is None:
        raise UsageError("--since needs a time zone (end it with Z for UTC)")
    return moment


def run_quarantine_list(args: argparse.Namespace) -> int:
    from service.models.ledger import utc_iso

    store = build_service().stores.quarantine
    records = [record for record in map(store.get, store.ids()) if record is not None]
    if args.json:
        _print_json([r.model_dump(mode="json") for r in records])
        return 0
    for record in records:
        print(
            f"{record.id}  {utc_iso(record.received_at)}  {record.kind:10} {record.code:28} {record.reason}"
        )
    print(f"{len(records)} quarantined")
    return 0


def run_quarantine_show(args: argparse.Namespace) -> int:
    from service.cli.exit_codes import EXIT_NOT_FOUND

    stores = build_service().stores
    record = stores.quarantine.get(args.id)
    if record is None:
        print(f"nanonets-ingest: no quarantine record {args.id!r}", file=sys.stderr)
        return EXIT_NOT_FOUND
    data: dict[str, Any] = record.model_dump(mode="json")
    if record.raw_key:
        raw = stores.raw.get(record.raw_key)
        data["raw"] = raw.decode("utf-8", "replace")[:100_000] if raw is not None else None
    _print_json(data)
    return 0


def run_quarantine_retry(args: argparse.Namespace) -> int:
    from service.adapters.sns import confirm_subscription

    recovery = build_service().recovery
    unresolved = 0
    for quarantine_id in args.id:
        result = recovery.retry_quarantined(quarantine_id, confirm=confirm_subscription)
        print(f"{'resolved' if result.resolved else 'still quarantined':18} {result.id}  {result.detail}")
        unresolved += not result.resolved
    return 0 if unresolved == 0 else 1


def run_status(args: argparse.Namespace) -> int:
    report = build_service().status()
    if args.json:
        _print_json(report.model_dump(mode="json"))
        return 0
    for name, value in report.model_dump(mode="json", exclude={"pacing"}).items():
        print(f"{name:28} {'-' if value is None else value}")
    for pacing in report.pacing:
        stopped = pacing.quota_stopped_since
        routes = f" (routes {', '.join(pacing.routes)})" if pacing.routes else ""
        print(
            f"pacing {pacing.model_id}{routes}: {pacing.pages_per_minute} pages/min, "
            f"backlog {pacing.backlog}, 429 pause {pacing.cooldown_seconds_left:.0f} s"
            + (f", STOPPED by 402 since {stopped.isoformat()} (waiting for credit)" if stopped else "")
        )
    return 0
