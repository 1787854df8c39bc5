"""`nanonets-ingest api ...`: one subcommand per Nanonets endpoint (the seeds' and today's), printing the JSON
answer."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.errors import UsageError

if TYPE_CHECKING:
    from service.adapters.nanonets import NanonetsClient

Commands = argparse._SubParsersAction  # a private name, but the only type add_subparsers() has
Call = Callable[["NanonetsClient", argparse.Namespace], dict[str, Any]]


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    api = commands.add_parser("api", help="call one Nanonets endpoint and print its JSON answer")
    api.add_argument(
        "--model-id",
        help="the model to call (default NANONETS_MODEL_ID; a routes file's other models need this)",
    )
    endpoints = api.add_subparsers(dest="endpoint", required=True, metavar="ENDPOINT")

    def add(name: str, call: Call, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = endpoints.add_parser(name, help=help_text)
        parser.set_defaults(handler=lambda args: _run(call, args))
        return parser

    urls = add("label-urls", _label_urls, "predict on URLs (LabelUrls)")
    urls.add_argument("urls", nargs="+", metavar="URL")
    _predict_options(urls)
    files = add("label-file", _label_file, "predict on local files (LabelFile)")
    files.add_argument("paths", nargs="+", metavar="PATH", type=Path)
    _predict_options(files)
    files.add_argument("--pages", help="pages_to_process, e.g. 1,2")

    add(
        "get-file",
        lambda c, a: c.fetch_file(a.file_id),
        "prediction by file id, on whichever path the server has (GetPredictions, InferenceRequest, getFile)",
    ).add_argument("file_id")
    page = add("get-page", lambda c, a: c.get_page(a.file_id, a.page_id), "prediction by page id, any path")
    page.add_argument("file_id")
    page.add_argument("page_id")
    list_files = add("list-files", lambda c, a: c.list_files(a.days, a.batch_day), "a time window, any path")
    _window_options(list_files, today=0)  # the guide's paths read 0 as today
    add(
        "get-predictions", lambda c, a: c.get_predictions(a.file_id), "prediction by file id (GetPredictions)"
    ).add_argument("file_id")
    add(
        "page",
        lambda c, a: c.image_level_inference(a.page_id),
        "prediction by page id (ImageLevelInferences)",
    ).add_argument("page_id")
    _window_options(
        add(
            "window",
            lambda c, a: c.image_level_inferences(a.days, a.batch_day),
            "all files in a time window (ImageLevelInferences)",
        ),
        today=int(time.time() // 86400),
    )

    training_urls = add(
        "upload-training-urls", lambda c, a: c.upload_training_urls(a.urls, _json_text(a.data)), "UploadUrls"
    )
    training_urls.add_argument("urls", nargs="+", metavar="URL")
    training_urls.add_argument("--data", help="annotation JSON")
    training_files = add(
        "upload-training-file",
        lambda c, a: c.upload_training_files(_existing(a.paths), _json_text(a.data) or ""),
        "UploadFile",
    )
    training_files.add_argument("paths", nargs="+", metavar="PATH", type=Path)
    training_files.add_argument("--data", required=True, help="annotation JSON")
    add("train", lambda c, a: c.train(), "train or retrain the model")

    add(
        "approve", lambda c, a: c.approve(a.file_id), "approve a file (Verify, else ApproveFile)"
    ).add_argument("file_id")
    add("approve-file", lambda c, a: c.approve_file(a.file_id), "approve a file (ApproveFile)").add_argument(
        "file_id"
    )
    add("verify", lambda c, a: c.verify(a.file_id), "approve a file (Verify)").add_argument("file_id")
    add(
        "unverify", lambda c, a: c.unverify(a.file_id), "take a file's approval back (UnVerify)"
    ).add_argument("file_id")
    retry = add(
        "retry-prediction",
        lambda c, a: c.retry_prediction(a.file_ids),
        "predict files again (RetryPrediction)",
    )
    retry.add_argument("file_ids", nargs="+", metavar="FILE_ID")
    add("delete", lambda c, a: c.delete(a.file_id), "delete a file").add_argument("file_id")
    update = add(
        "update", lambda c, a: c.update_fields(a.file_id, _fields(a.field)), "update a file's fields"
    )
    update.add_argument("file_id")
    update.add_argument("--field", action="append", required=True, metavar="LABEL=TEXT")
    add("export", lambda c, a: c.export(a.file_id), "export a file").add_argument("file_id")


def _window_options(parser: argparse.ArgumentParser, *, today: int) -> None:
    parser.add_argument("--days", type=int, required=True, help="start_day_interval")
    parser.add_argument(
        "--batch-day",
        type=int,
        default=today,
        help="current_batch_day, days since the epoch (default: today)",
    )


def _predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--async", dest="asynchronous", action="store_true", help="async prediction")
    parser.add_argument(
        "--async-path", action="store_true", help="use the /Async/ path instead of ?async=true"
    )
    parser.add_argument("--metadata", help="request_metadata (JSON)")


def _label_urls(client: NanonetsClient, args: argparse.Namespace) -> dict[str, Any]:
    return client.predict_urls(
        args.urls,
        asynchronous=args.asynchronous,
        request_metadata=_json_text(args.metadata),
        async_style="path" if args.async_path else "query",
    )


def _existing(paths: list[Path]) -> list[Path]:
    for path in paths:
        if not path.is_file():
            _usage(f"no such file: {path}")
    return paths


def _label_file(client: NanonetsClient, args: argparse.Namespace) -> dict[str, Any]:
    return client.predict_files(
        _existing(args.paths),
        asynchronous=args.asynchronous,
        request_metadata=_json_text(args.metadata),
        pages_to_process=args.pages,
        async_style="path" if args.async_path else "query",
    )


def _usage(message: str) -> None:
    raise UsageError(message)


def _json_text(text: str | None) -> str | None:
    """Check that a --metadata/--data value is JSON before sending it; send it as given."""
    if text is None:
        return None
    try:
        json.loads(text)
    except ValueError as error:
        _usage(f"not valid JSON: {text!r} ({error})")
    return text


def _fields(pairs: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        label, sep, text = pair.partition("=")
        if not sep or not label.strip():
            _usage(f"--field wants LABEL=TEXT, got {pair!r}")
        fields[label.strip()] = text
    return fields


def _run(call: Call, args: argparse.Namespace) -> int:
    from service.adapters.nanonets import NanonetsClient
    from service.settings import load_nanonets_settings

    overrides = {"nanonets_model_id": args.model_id} if args.model_id else {}
    client = NanonetsClient.from_settings(load_nanonets_settings(**overrides))
    print(json.dumps(call(client, args), indent=2, ensure_ascii=False))
    return 0
