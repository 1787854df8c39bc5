"""What every blueprint reads from the app: the built service, the webhook secret check, the body."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from service.bootstrap import Service

SERVICE = "nanonets_ingest.service"
SECRET_DIGEST = "nanonets_ingest.secret_digest"  # noqa: S105 - an extension name, not a secret


def service() -> Service:
    built: Service = current_app.extensions[SERVICE]
    return built


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def authorized() -> bool:
    """Token from ?token= (Nanonets can only be given a URL) or X-Webhook-Token; constant-time compare of
    fixed-length digests, so neither content nor length leaks through timing."""
    supplied = request.args.get("token") or request.headers.get("X-Webhook-Token") or ""
    return hmac.compare_digest(digest(supplied), current_app.extensions[SECRET_DIGEST])


def read_body() -> bytes:
    """The body, or 413 past MAX_BODY_BYTES, whether or not the client sent a Content-Length."""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        # Werkzeug refuses an over-limit Content-Length with 413 before reading anything.
        return request.get_data(cache=False)
    # Chunked (gunicorn terminates the stream): werkzeug's limited stream stops silently at the limit,
    # which would hand us a truncated body. Read one byte past the limit to tell "exactly" from "over".
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    stream = request.environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)
