"""Source keys and output keys: which objects are eligible, which route they take, where their output goes.
Pure: no I/O.

Each route (core/routes.py; without a routes file the one route of INPUT_PREFIX and OUTPUT_PREFIX) reads
the keys under its prefix, the longest matching prefix winning, and writes outputs under its output prefix.

The recursion guard: the service writes outputs, analytics rows and state into buckets it may also be
notified about, so an object under STATE_PREFIX of the state bucket, ANALYTICS_PREFIX of the output bucket
or any route's output prefix in the output bucket is never submitted, and neither is any key under a
route's output prefix when that prefix lies inside a route's input prefix (whatever the bucket).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:
    from service.settings import Settings

MAX_KEY_BYTES = 1024  # S3's own limit
DEFAULT_ROUTE = "default"

T = TypeVar("T")


class RouteKeys(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
    """Where one route reads (`prefix`) and writes (`output_prefix`)."""

    name: str
    prefix: str
    output_prefix: str


class KeyPolicy(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
    routes: tuple[RouteKeys, ...]
    suffixes: tuple[str, ...]
    output_bucket: str
    state_bucket: str
    state_prefix: str
    max_document_bytes: int
    analytics_prefix: str = "analytics/"

    @classmethod
    def from_settings(cls, settings: Settings, routes: Iterable[RouteKeys] | None = None) -> KeyPolicy:
        """The policy of these routes; without any, the one default route of INPUT_PREFIX/OUTPUT_PREFIX."""
        default = RouteKeys(DEFAULT_ROUTE, settings.input_prefix, settings.output_prefix)
        return cls(
            routes=tuple(routes) if routes is not None else (default,),
            suffixes=tuple(s.lower() for s in settings.input_suffixes),
            output_bucket=settings.output_bucket,
            state_bucket=settings.state_bucket_name,
            state_prefix=settings.state_prefix,
            max_document_bytes=settings.max_document_bytes,
            analytics_prefix=settings.analytics_prefix,
        )


def longest_prefix(candidates: Iterable[T], key: str, prefix_of: Callable[[T], str]) -> T | None:
    """The candidate whose prefix is the longest one `key` starts with; None when none matches."""
    matching = [candidate for candidate in candidates if key.startswith(prefix_of(candidate))]
    return max(matching, key=lambda candidate: len(prefix_of(candidate)), default=None)


def route_keys_for(policy: KeyPolicy, key: str) -> RouteKeys | None:
    return longest_prefix(policy.routes, key, lambda route: route.prefix)


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
    if route_keys_for(policy, key) is None:
        return _no_route_reason(policy)
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


def _no_route_reason(policy: KeyPolicy) -> str:
    if len(policy.routes) == 1:
        return f"not under input prefix {policy.routes[0].prefix!r}"
    prefixes = ", ".join(repr(route.prefix) for route in policy.routes)
    return f"under no route (prefixes {prefixes})"


def _own_prefix_reason(policy: KeyPolicy, bucket: str, key: str) -> str | None:
    if bucket == policy.state_bucket and key.startswith(policy.state_prefix):
        return "under the state prefix (our own state)"
    if bucket == policy.output_bucket and key.startswith(policy.analytics_prefix):
        return "under the analytics prefix (our own dataset)"
    for route in policy.routes:
        if not key.startswith(route.output_prefix):
            continue
        inside_input = any(route.output_prefix.startswith(other.prefix) for other in policy.routes)
        if bucket == policy.output_bucket or inside_input:
            return "under the output prefix (our own output)"
    return None


def _suffix(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def output_key(policy: KeyPolicy, source_key: str) -> str:
    """`incoming/fleet/recibo 1.pdf` → `normalized/fleet/recibo 1.pdf.json` (by the key's route)."""
    route = route_keys_for(policy, source_key)
    if route is None:
        raise ValueError(f"{source_key!r} is not under the input prefix of any route")
    return output_key_under(route.prefix, route.output_prefix, source_key)


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


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/key` or `s3://bucket/prefix/` → (bucket, key or prefix)."""
    if not url.startswith("s3://"):
        raise ValueError(f"expected an s3://bucket/key URL, got {url!r}")
    bucket, _, key = url[len("s3://") :].partition("/")
    if len(bucket) < 3:
        raise ValueError(f"no bucket name in {url!r} (expected s3://bucket/key)")
    return bucket, key
