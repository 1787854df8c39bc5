"""Source keys and output keys: which objects are eligible, where their output goes, how they are named in
the ledger. Pure: no I/O.

The recursion guard: the service writes outputs and state into buckets it may also be notified about, so an
object under OUTPUT_PREFIX or STATE_PREFIX of the output/state bucket is never submitted, and neither is any
key under OUTPUT_PREFIX when that prefix lies inside INPUT_PREFIX (whatever the bucket).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.settings import Settings

MAX_KEY_BYTES = 1024  # S3's own limit


@dataclass(frozen=True)
class KeyPolicy:
    input_prefix: str
    suffixes: tuple[str, ...]
    output_bucket: str
    output_prefix: str
    state_bucket: str
    state_prefix: str
    max_document_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyPolicy:
        return cls(
            input_prefix=settings.input_prefix,
            suffixes=tuple(s.lower() for s in settings.input_suffixes),
            output_bucket=settings.output_bucket,
            output_prefix=settings.output_prefix,
            state_bucket=settings.state_bucket_name,
            state_prefix=settings.state_prefix,
            max_document_bytes=settings.max_document_bytes,
        )


def skip_reason(policy: KeyPolicy, bucket: str, key: str, size: int | None) -> str | None:
    """None when the object should be submitted; otherwise a short, stable reason."""
    if not key:
        return "empty key"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return "key too long"
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return "key contains control characters"
    if any(segment in (".", "..") for segment in key.split("/")):
        # Harmless in S3, but the output key would carry it to whoever syncs outputs to a disk.
        return "key has a '.' or '..' path segment"
    own = _own_prefix_reason(policy, bucket, key)
    if own:
        return own
    if not key.startswith(policy.input_prefix):
        return f"not under input prefix {policy.input_prefix!r}"
    if key.endswith("/"):
        return "folder placeholder"
    suffix = _suffix(key)
    if suffix not in policy.suffixes:
        return f"suffix not allowed: {suffix or '(none)'}"
    if size is not None and size <= 0:
        return "empty object (0 bytes)"
    if size is not None and size > policy.max_document_bytes:
        return f"too large: {size} bytes > MAX_DOCUMENT_BYTES {policy.max_document_bytes}"
    return None


def _own_prefix_reason(policy: KeyPolicy, bucket: str, key: str) -> str | None:
    if bucket == policy.state_bucket and key.startswith(policy.state_prefix):
        return "under the state prefix (our own state)"
    output_inside_input = policy.output_prefix.startswith(policy.input_prefix)
    if key.startswith(policy.output_prefix) and (bucket == policy.output_bucket or output_inside_input):
        return "under the output prefix (our own output)"
    return None


def _suffix(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def output_key(policy: KeyPolicy, source_key: str) -> str:
    """`incoming/fleet/recibo 1.pdf` → `normalized/fleet/recibo 1.pdf.json`."""
    return output_key_under(policy.input_prefix, policy.output_prefix, source_key)


def output_key_under(input_prefix: str, output_prefix: str, source_key: str) -> str:
    """The output key of `source_key`: its path below `input_prefix`, placed under `output_prefix`."""
    if not source_key.startswith(input_prefix):
        raise ValueError(f"{source_key!r} is not under the input prefix {input_prefix!r}")
    return output_prefix + source_key[len(input_prefix) :] + ".json"


def prefix_shape(value: str) -> str:
    """A key prefix as settings and routes hold it: never a leading '/', always a trailing one (or empty)."""
    if value.startswith("/"):
        raise ValueError("must not start with '/'")
    if value and not value.endswith("/"):
        value += "/"
    return value


def source_token(etag: str | None, version_id: str | None) -> str:
    """One version of an object: its version id when the bucket is versioned, else its ETag."""
    if version_id and version_id != "null":
        return f"v:{version_id}"
    return f"e:{(etag or '').strip(chr(34))}"


def object_digest(bucket: str, key: str) -> str:
    """Ledger keys never embed raw object keys (spaces, unicode, '..')."""
    return hashlib.sha256(f"{bucket}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/key` or `s3://bucket/prefix/` → (bucket, key or prefix)."""
    if not url.startswith("s3://"):
        raise ValueError(f"expected an s3://bucket/key URL, got {url!r}")
    bucket, _, key = url[len("s3://") :].partition("/")
    if len(bucket) < 3:
        raise ValueError(f"no bucket name in {url!r} (expected s3://bucket/key)")
    return bucket, key
