"""Exit codes of `nanonets-ingest`, and the one mapping from error types to them."""

from __future__ import annotations

from service.errors import (
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
EXIT_INTERRUPTED = 130


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, UsageError | SettingsError | NanonetsBadRequest | PayloadRejected):
        return EXIT_USAGE
    if isinstance(error, NanonetsAuthError | NanonetsQuotaExceeded):
        return EXIT_AUTH_OR_QUOTA
    if isinstance(error, NanonetsNotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, NanonetsRateLimited | NanonetsUnavailable | StorageUnavailable):
        return EXIT_UNAVAILABLE
    return EXIT_FAILURE


def exit_code_for_failed_submission(retryable: bool) -> int:
    """A submission Nanonets refused: for now (unavailable, throttled) or for good (auth, quota, bad file)."""
    return EXIT_UNAVAILABLE if retryable else EXIT_AUTH_OR_QUOTA


def human_sentence(error: BaseException) -> str:
    if isinstance(error, NanonetsAuthError):
        return f"Nanonets refused the API key: check NANONETS_API_KEY ({error})"
    if isinstance(error, NanonetsQuotaExceeded):
        return f"Nanonets says the plan's free calls are used up ({error})"
    return str(error) or type(error).__name__
