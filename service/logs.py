"""JSON-lines logging for the service, the CLI and Lambda, with secrets redacted from each finished line as a
last line of defence.

python-json-logger does the formatting (a maintained library rather than a hand-made formatter); any
`extra={...}` given to a log call becomes a key of the line (request_file_id, bucket, key, duration_ms ...).

Correlation: `log_context(**ids)` names the document being handled (bucket, key, version_token,
request_file_id, route, submitted_at) for everything logged inside it, in this thread or task only
(contextvars); nested contexts merge. `log_state_change(event, **fields)` writes the one line a state
change gets, with the seconds elapsed since the document's submission when the context knows it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType

from pythonjsonlogger.json import JsonFormatter

_HANDLER_NAME = "nanonets-ingest-json"

_CONTEXT: ContextVar[Mapping[str, object]] = ContextVar(
    "nanonets_ingest_log_context", default=MappingProxyType({})
)
_STATE_LOG = logging.getLogger("service.state")


@contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Add `ids` (None values left out) to every line logged inside the block; inner values win."""
    merged = {**_CONTEXT.get(), **{name: value for name, value in ids.items() if value is not None}}
    token = _CONTEXT.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_log_context() -> Mapping[str, object]:
    return _CONTEXT.get()


class LogContextFilter(logging.Filter):
    """Copy the current log context onto each record; a value given by the call itself wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _CONTEXT.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def log_state_change(
    event: str, *, at: datetime | None = None, level: int = logging.INFO, **fields: object
) -> None:
    """One line per state change of a document (`submitted`, `output_written`, `quarantined` ...), with the
    seconds from its submission to `at` (the caller's clock; now by default) when the context knows it."""
    fields = {name: value for name, value in fields.items() if value is not None}
    elapsed = _seconds_since_submission(at or datetime.now(UTC))
    if elapsed is not None:
        fields["elapsed_seconds"] = elapsed
    _STATE_LOG.log(level, event, extra={"event": event, **fields})


def _seconds_since_submission(now: datetime) -> float | None:
    submitted_at = _CONTEXT.get().get("submitted_at")
    if isinstance(submitted_at, str):
        try:
            submitted_at = datetime.fromisoformat(submitted_at.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(submitted_at, datetime) or submitted_at.tzinfo is None:
        return None
    return round((now - submitted_at).total_seconds(), 3)


class SecretRedactor:
    """Hides every place any secret occupies in a text, overlaps included, with '***' per hidden run. Each
    secret is looked for on its own there: one pattern's match is the leftmost, which could leave part of a
    longer secret beside it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        # A JSON line holds a secret with '"', '\\' or non-ASCII characters escaped: look for that form too.
        forms = {form for secret in self._secrets for form in (secret, json.dumps(secret)[1:-1])}
        self._found = re.compile("|".join(map(re.escape, sorted(forms)))).search if forms else None

    def line(self, line: str) -> str:
        """A JSON line with every secret in any of its strings (keys, nested values, a traceback) hidden.
        One search of the finished line decides; only a line holding a secret is decoded and rebuilt."""
        if self._found is None or self._found(line) is None:
            return line
        return json.dumps(self._hidden_in(json.loads(line)))

    def _hidden_in(self, value: object) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            written = json.dumps(value)  # a secret of digits logged as a number: written as text, hidden
            return self.text(written) if self._found and self._found(written) else value
        if isinstance(value, dict):
            return {self.text(key): self._hidden_in(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._hidden_in(item) for item in value]
        return value

    def text(self, text: str) -> str:
        hidden = [False] * len(text)
        for secret in self._secrets:
            at = text.find(secret)
            while at >= 0:
                hidden[at : at + len(secret)] = [True] * len(secret)
                at = text.find(secret, at + 1)
        kept, hiding = [], False
        for char, hide in zip(text, hidden, strict=True):
            if not hide:
                kept.append(char)
            elif not hiding:
                kept.append("***")
            hiding = hide
        return "".join(kept)


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line (time, level, logger, message, then the record's extras), with the secrets
    redacted from the finished line as a last line of defence: what a filter on the record would miss, a
    traceback or a secret nested in an extra value, is in the line too."""

    def __init__(self, redactor: SecretRedactor) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        try:
            line = super().format(record)
        except Exception:
            # logging's handleError then prints the record's msg and args to the same stream: hide them
            record.msg = self._redactor.text(str(record.msg))
            record.args = (self._redactor.text(repr(record.args)),) if record.args else None
            raise
        return self._redactor.line(line)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Idempotent: a second call (another app in the same process) replaces the formatter (and with it the
    secrets) and the filter, not the handler."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    handler.setFormatter(JsonLineFormatter(SecretRedactor(secrets)))
    handler.filters.clear()
    handler.addFilter(LogContextFilter())
    root.setLevel(level.upper())
    # Their request lines would carry ?token=...; ours log the path only.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
