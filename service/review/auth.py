"""Who may enter the console: signed session cookies, CSRF tokens, and a login rate limit shared by every
worker and Lambda instance.

- The session is Flask's signed cookie (HMAC-SHA256 over SESSION_SECRET, salted for this use), named
  `__Host-review-session`: Secure, HttpOnly, SameSite=Lax, path `/`, no domain; it expires after
  SESSION_LIFETIME. It holds the reviewer's name, a fingerprint of their password hash (a changed password
  or a removed reviewer ends every session at the next request) and the CSRF token.
- Every form carries the CSRF token; every POST under /review is refused without the right one.
- Failed logins are counted per reviewer name and per client address in S3 objects replaced with
  If-Match, so the limit holds across gunicorn workers and Lambda instances; past the limit, logins are
  refused (429) until the window ends, even with the right password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from pydantic import BaseModel

from service.adapters.s3.bucket import StateBucket
from service.ports import Clock

SESSION_COOKIE = "__Host-review-session"
SESSION_LIFETIME = timedelta(hours=8)
CSRF_FIELD = "csrf_token"


class ReviewSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, signed with SHA-256 and a salt of its own."""

    salt = "nanonets-ingest-review-session"
    digest_method = staticmethod(hashlib.sha256)


def configure_sessions(app: Flask, session_secret: str) -> None:
    app.secret_key = session_secret
    app.session_interface = ReviewSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )


def csrf_token() -> str:
    """The session's CSRF token (made on first use: the login form has one before anyone logs in)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_valid(supplied: str | None) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not supplied:
        return False
    return hmac.compare_digest(supplied.encode(), expected.encode())


def start_session(user: str, fingerprint: str) -> None:
    """A new session for the reviewer: fresh CSRF token, nothing kept from the anonymous one."""
    session.clear()
    session.permanent = True
    session.update(user=user, fp=fingerprint, csrf=secrets.token_urlsafe(32))


def session_user(fingerprint_of: Callable[[str], str | None]) -> str | None:
    """The reviewer of this session, if it is still valid for them."""
    user, fingerprint = session.get("user"), session.get("fp")
    if not isinstance(user, str) or not isinstance(fingerprint, str):
        return None
    current = fingerprint_of(user)
    if current is None or not hmac.compare_digest(current, fingerprint):
        return None
    return user


def end_session() -> None:
    session.clear()


# ---- login rate limit ----


class FailureCount(BaseModel):
    window_started: str
    failures: int = 0


@dataclass(frozen=True)
class Limit:
    kind: str  # "user" or "client"
    value: str
    max_failures: int


USER_FAILURES = 5  # per reviewer name per window: slows guessing one account to a crawl
# Per client address per window: slows trying many names; shared addresses are allowed more.
CLIENT_FAILURES = 30
WINDOW = timedelta(minutes=15)
WRITE_ATTEMPTS = 5


class LoginThrottle:
    def __init__(self, state: StateBucket, clock: Clock) -> None:
        self.state = state
        self._clock = clock

    @staticmethod
    def limits(user: str, client: str | None) -> list[Limit]:
        limits = [Limit("user", user.lower(), USER_FAILURES)]
        if client:
            limits.append(Limit("client", client, CLIENT_FAILURES))
        return limits

    def retry_after(self, limits: list[Limit]) -> int | None:
        """Seconds until a login may be tried again, or None when it may be tried now."""
        now = self._clock()
        waits = []
        for limit in limits:
            found = self.state.get_model(self._key(limit), FailureCount)
            if found is None:
                continue
            count = found[0]
            ends = datetime.fromisoformat(count.window_started) + WINDOW
            if ends > now and count.failures >= limit.max_failures:
                waits.append(int((ends - now).total_seconds()) + 1)
        return max(waits) if waits else None

    def record_failure(self, limits: list[Limit]) -> None:
        for limit in limits:
            self._increment(limit)

    def record_success(self, user: str) -> None:
        self.state.delete(self._key(Limit("user", user.lower(), USER_FAILURES)))

    def _increment(self, limit: Limit) -> None:
        key = self._key(limit)
        for _ in range(WRITE_ATTEMPTS):
            now = self._clock()
            found = self.state.get_model(key, FailureCount)
            count, etag = found if found else (None, None)
            if count is None or datetime.fromisoformat(count.window_started) + WINDOW <= now:
                updated = FailureCount(window_started=now.astimezone(UTC).isoformat(), failures=1)
            else:
                updated = count.model_copy(update={"failures": count.failures + 1})
            if self.state.put_model(key, updated, if_match=etag, if_none_match=etag is None):
                return
        # Lost every race: others are failing logins on the same counter right now, so it is counting.

    def _key(self, limit: Limit) -> str:
        digest = hashlib.sha256(f"{limit.kind}\n{limit.value}".encode()).hexdigest()[:32]
        return self.state.key("review", "login-failures", f"{digest}.json")
