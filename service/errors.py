"""Errors as types. Each is mapped to an HTTP status in `web.py` and to an exit code in `cli.py`,
nowhere else."""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error this service raises on purpose."""


class NanonetsError(IngestError):
    """The Nanonets API answered with an error (or could not be reached)."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f" ({self.endpoint})" if self.endpoint else ""
        code = f"HTTP {self.status}: " if self.status else ""
        return f"{code}{self.message}{where}"


class NanonetsBadRequest(NanonetsError):
    """400: a missing file or an invalid format."""


class NanonetsAuthError(NanonetsError):
    """401: the API key was refused."""


class NanonetsQuotaExceeded(NanonetsError):
    """402: the free calls are used up."""


class NanonetsNotFound(NanonetsError):
    """404: no such model, or no such file."""


class NanonetsRateLimited(NanonetsError):
    """429: still after every retry (reads), or at once (predict calls, whose waiting the pacer owns).

    `retry_after` is the answer's Retry-After in seconds, or None: live Nanonets sends none (wait 30 s, then
    back off)."""

    def __init__(
        self, message: str, *, status: int | None = None, endpoint: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint)
        self.retry_after = retry_after


class NanonetsUnavailable(NanonetsError):
    """5xx or no connection, after every retry."""


class StorageUnavailable(IngestError):
    """S3 could not be reached or answered with a server error; the caller should retry later."""


class PayloadRejected(IngestError):
    """An input of no known shape. `code` is machine-readable, the message a human sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UsageError(Exception):
    """Bad command-line input that argparse could not catch (bad JSON, bad s3:// URL ...).

    It lives here, not in cli.py, because `python -m service.cli` loads cli.py as `__main__`:
    a class defined there would be a different class from the one cli_ops imports.
    """


class EventDeliveryFailed(IngestError):
    """A completion event did not reach its target. `permanent` when retrying cannot help (HTTP 410 Gone):
    the outbox dead-letters it at once instead of retrying."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class DatasetError(IngestError):
    """An object of the analytics dataset that is not JSON Lines of rows (written by hand?)."""
