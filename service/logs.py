"""JSON-lines logging for the service, the CLI and Lambda, with secrets redacted as a last line of defence.

python-json-logger does the formatting (a maintained library rather than a hand-made formatter); any
`extra={...}` given to a log call becomes a key of the line (request_file_id, bucket, key, duration_ms ...).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

_HANDLER_NAME = "nanonets-ingest-json"


class RedactSecrets(logging.Filter):
    """Replace any secret that slipped into a message or an extra value with '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            record.msg = self._redact(message)
            record.args = None
        for name, value in list(record.__dict__.items()):
            if isinstance(value, str) and any(secret in value for secret in self._secrets):
                setattr(record, name, self._redact(value))
        return True

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Idempotent: a second call (another app in the same process) replaces the filter, not the handler."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
        root.addHandler(handler)
    handler.filters.clear()
    handler.addFilter(RedactSecrets(secrets))
    root.setLevel(level.upper())
    # Their request lines would carry ?token=...; ours log the path only.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
