"""Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric scheme `v1`).

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the key is the base64-decoded part of the
`whsec_...` secret; the signature is the base64 of the HMAC-SHA256, sent as `v1,<signature>`. Pure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker of Standard Webhooks secrets, not a secret


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (settings checked its shape at start-up)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }
