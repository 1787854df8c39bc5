"""service.core.keys (eligibility, output keys, ledger names) and service.core.pacing (token bucket)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.s3.bucket import safe_id
from service.core.keys import (
    MAX_KEY_BYTES,
    KeyPolicy,
    RouteKeys,
    output_key,
    parse_s3_url,
    skip_reason,
)
from service.core.pacing import TokenBucket
from service.models.source import object_digest, source_token
from service.settings import Settings

SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


def policy(
    input_prefix: str = "incoming/", output_prefix: str = "normalized/", **overrides: object
) -> KeyPolicy:
    """The policy of one route (the default), as without a routes file."""
    values: dict[str, object] = {
        "routes": (RouteKeys("default", input_prefix, output_prefix),),
        "suffixes": SUFFIXES,
        "output_bucket": "out",
        "state_bucket": "out",
        "state_prefix": "_state/",
        "max_document_bytes": 1000,
    }
    values.update(overrides)
    return KeyPolicy(**values)  # type: ignore[arg-type]


def routed(**overrides: object) -> KeyPolicy:
    """Two routes: receipts mirror under normalized/, invoices write under erp/ (in the output bucket)."""
    routes = (
        RouteKeys("receipts", "incoming/receipts/", "normalized/receipts/"),
        RouteKeys("invoices", "incoming/invoices/", "erp/invoices/"),
    )
    return policy(routes=routes, **overrides)


# -------------------------------------------------------------------------------------- skip_reason


@pytest.mark.parametrize(
    ("bucket", "key", "size"),
    [
        ("in", "incoming/a.pdf", 10),
        ("in", "incoming/fleet/recibo 1.pdf", 10),
        ("in", "incoming/a.PDF", 10),  # suffixes are case-insensitive
        ("in", "incoming/scan.JPeG", 10),
        ("in", "incoming/x.tiff", 10),
        ("in", "incoming/ñandú €.png", 10),
        ("in", "incoming/archive.tar.pdf", 10),
        ("in", "incoming/a.pdf", 1000),  # exactly the limit
        ("in", "incoming/a.pdf", None),  # size unknown: HEAD decides later
        ("out", "incoming/a.pdf", 10),  # inputs may live in the output bucket, outside its prefixes
    ],
)
def test_eligible_objects(bucket: str, key: str, size: int | None) -> None:
    assert skip_reason(policy(), bucket, key, size) is None


@pytest.mark.parametrize(
    ("bucket", "key", "size", "fragment"),
    [
        ("in", "", 10, "empty key"),
        ("in", "other/a.pdf", 10, "not under input prefix 'incoming/'"),
        ("in", "incomingx/a.pdf", 10, "not under input prefix"),
        ("in", "Incoming/a.pdf", 10, "not under input prefix"),  # prefixes are case-sensitive, like S3
        ("in", "incoming/", 0, "folder placeholder"),
        ("in", "incoming/sub/", None, "folder placeholder"),
        ("in", "incoming/a.txt", 10, "suffix not allowed: .txt"),
        ("in", "incoming/a.pdf.json", 10, "suffix not allowed: .json"),
        ("in", "incoming/README", 10, "suffix not allowed: (none)"),
        ("in", "incoming/.pdf", 10, "suffix not allowed: (none)"),  # a dot-file has no suffix
        ("in", "incoming/a.pdf", 0, "empty object"),
        ("in", "incoming/a.pdf", 1001, "too large: 1001 bytes > MAX_DOCUMENT_BYTES 1000"),
        ("in", "incoming/a\nb.pdf", 10, "control characters"),
        ("in", "incoming/a\x7fb.pdf", 10, "control characters"),
        ("out", "normalized/a.pdf", 10, "our own output"),
        ("out", "_state/raw/ab/x.pdf", 10, "our own state"),
    ],
)
def test_skipped_objects_have_a_reason(bucket: str, key: str, size: int | None, fragment: str) -> None:
    reason = skip_reason(policy(), bucket, key, size)
    assert reason is not None and fragment in reason


def test_key_length_is_counted_in_utf8_bytes() -> None:
    longest = "incoming/" + "é" * ((MAX_KEY_BYTES - len("incoming/") - len(".pdf")) // 2) + ".pdf"
    assert len(longest.encode()) <= MAX_KEY_BYTES
    assert skip_reason(policy(), "in", longest, 10) is None
    too_long = "incoming/" + "é" * 510 + ".pdf"  # 515 characters, 1033 bytes
    assert len(too_long) < MAX_KEY_BYTES < len(too_long.encode())
    assert skip_reason(policy(), "in", too_long, 10) == "key too long"


def test_own_output_is_skipped_when_it_lies_inside_the_input_prefix_whatever_the_bucket() -> None:
    nested = policy(output_prefix="incoming/normalized/")
    for bucket in ("out", "in", "elsewhere"):
        reason = skip_reason(nested, bucket, "incoming/normalized/a.pdf", 10)
        assert reason is not None and "own output" in reason
    assert skip_reason(nested, "in", "incoming/a.pdf", 10) is None


def test_empty_input_prefix_still_guards_outputs_and_state() -> None:
    everything = policy(input_prefix="", state_bucket="state")
    assert skip_reason(everything, "in", "a.pdf", 10) is None
    assert "own output" in (skip_reason(everything, "in", "normalized/a.pdf", 10) or "")
    assert "own state" in (skip_reason(everything, "state", "_state/x.pdf", 10) or "")
    assert skip_reason(everything, "in", "_state/x.pdf", 10) is None  # someone else's folder of that name


def test_output_prefix_in_another_bucket_is_not_ours() -> None:
    separate = policy(input_prefix="", output_bucket="out")
    assert skip_reason(separate, "in", "docs/normalized/a.pdf", 10) is None


def test_policy_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    configured = Settings(
        nanonets_api_key="k" * 12,  # type: ignore[arg-type]
        nanonets_model_id="m",
        output_bucket="out-bucket",
        input_prefix="in",
        input_suffixes=("PDF", ".Png"),
        output_prefix="json",
        state_prefix="st",
        max_document_bytes=77,
        state_bucket=None,
    )
    built = KeyPolicy.from_settings(configured)
    assert built == KeyPolicy(
        routes=(RouteKeys("default", "in/", "json/"),),
        suffixes=(".pdf", ".png"),
        output_bucket="out-bucket",
        state_bucket="out-bucket",
        state_prefix="st/",
        max_document_bytes=77,
        analytics_prefix="analytics/",
    )
    assert skip_reason(built, "x", "in/a.PDF", 5) is None
    assert skip_reason(built, "x", "in/a.pdf", 78) is not None


# ------------------------------------------------------------------------------------------- routes


def test_a_key_under_no_route_is_skipped_naming_every_route_prefix() -> None:
    reason = skip_reason(routed(), "in", "incoming/other/a.pdf", 10)
    assert reason == "under no route (prefixes 'incoming/receipts/', 'incoming/invoices/')"
    assert skip_reason(routed(), "in", "incoming/invoices/a.pdf", 10) is None


def test_every_routes_output_prefix_is_guarded_in_the_output_bucket() -> None:
    assert "own output" in (skip_reason(routed(), "out", "erp/invoices/a.pdf", 10) or "")
    assert "own output" in (skip_reason(routed(), "out", "normalized/receipts/a.pdf", 10) or "")
    assert skip_reason(routed(), "in", "erp/invoices/a.pdf", 10) is not None  # under no route either


def test_a_routes_output_inside_another_routes_input_is_guarded_in_any_bucket() -> None:
    nested = policy(
        routes=(
            RouteKeys("everything", "incoming/", "incoming/out/"),
            RouteKeys("invoices", "incoming/invoices/", "erp/"),
        )
    )
    assert "own output" in (skip_reason(nested, "elsewhere", "incoming/out/a.pdf", 10) or "")
    assert skip_reason(nested, "elsewhere", "incoming/a.pdf", 10) is None


def test_the_analytics_dataset_is_never_submitted() -> None:
    everything = policy(input_prefix="")
    assert "analytics" in (skip_reason(everything, "out", "analytics/rows/dt=2026-01-01/a.pdf", 10) or "")
    assert skip_reason(everything, "in", "analytics/a.pdf", 10) is None  # someone else's folder


def test_output_key_follows_the_longest_matching_route() -> None:
    two = policy(
        routes=(
            RouteKeys("all", "incoming/", "normalized/"),
            RouteKeys("invoices", "incoming/invoices/", "erp/invoices/"),
        )
    )
    assert output_key(two, "incoming/invoices/2026/a.pdf") == "erp/invoices/2026/a.pdf.json"
    assert output_key(two, "incoming/receipts/a.pdf") == "normalized/receipts/a.pdf.json"


# --------------------------------------------------------------------------------------- output_key


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("incoming/fleet/recibo 1.pdf", "normalized/fleet/recibo 1.pdf.json"),
        ("incoming/a.pdf", "normalized/a.pdf.json"),
        ("incoming/ñ/ü+%20.PDF", "normalized/ñ/ü+%20.PDF.json"),
        ("incoming/incoming/a.pdf", "normalized/incoming/a.pdf.json"),
    ],
)
def test_output_key(source: str, expected: str) -> None:
    assert output_key(policy(), source) == expected


def test_output_key_refuses_keys_outside_the_input_prefix() -> None:
    with pytest.raises(ValueError, match="input prefix"):
        output_key(policy(), "other/a.pdf")


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_distinct_sources_have_distinct_outputs(rest: str) -> None:
    first, second = "incoming/" + rest, "incoming/" + rest + "x"
    assert output_key(policy(), first) != output_key(policy(), second)
    assert output_key(policy(), first).startswith("normalized/")


# ------------------------------------------------------------------------------------ source_token


@pytest.mark.parametrize(
    ("etag", "version_id", "expected"),
    [
        ('"d41d8cd98f00b204e9800998ecf8427e"', None, "e:d41d8cd98f00b204e9800998ecf8427e"),
        ("d41d8cd98f00b204e9800998ecf8427e", None, "e:d41d8cd98f00b204e9800998ecf8427e"),
        ('"abc-2"', "null", "e:abc-2"),  # unversioned objects in a versioned bucket say "null"
        ('"abc"', "", "e:abc"),
        ('"abc"', "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "v:3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"),
        (None, "v1", "v:v1"),
    ],
)
def test_source_token(etag: str | None, version_id: str | None, expected: str) -> None:
    assert source_token(etag, version_id) == expected


def test_quoted_and_unquoted_etags_are_the_same_version() -> None:
    assert source_token('"abc"', None) == source_token("abc", None) != source_token("abd", None)


# ----------------------------------------------------------------------------------- object_digest


def test_object_digest_is_stable_sha256() -> None:
    assert object_digest("b", "k") == hashlib.sha256(b"b\nk").hexdigest()
    assert object_digest("in", "incoming/a.pdf") == object_digest("in", "incoming/a.pdf")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("in", "incoming/a.pdf"), ("in", "incoming/b.pdf")),
        (("in", "incoming/a.pdf"), ("in2", "incoming/a.pdf")),
        (("a", "b/c"), ("a/b", "c")),
    ],
)
def test_object_digest_distinguishes_objects(first: tuple[str, str], second: tuple[str, str]) -> None:
    assert object_digest(*first) != object_digest(*second)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20), st.text(max_size=40))
def test_object_digest_is_a_safe_name_for_any_key(bucket: str, key: str) -> None:
    digest = object_digest(bucket, key)
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")


# ------------------------------------------------------------------------------------- parse_s3_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/incoming/a.pdf", ("bucket", "incoming/a.pdf")),
        ("s3://bucket/incoming/", ("bucket", "incoming/")),
        ("s3://bucket/recibo 1.pdf", ("bucket", "recibo 1.pdf")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket", ("bucket", "")),
        ("s3://my.bucket-1/a/b/c", ("my.bucket-1", "a/b/c")),
    ],
)
def test_parse_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://bucket/key", "expected an s3://bucket/key URL"),
        ("bucket/key", "expected an s3://bucket/key URL"),
        ("", "expected an s3://bucket/key URL"),
        ("s3:/bucket/key", "expected an s3://bucket/key URL"),
        ("s3:///key", "no bucket name"),
        ("s3://", "no bucket name"),
        ("s3://ab/key", "no bucket name"),
    ],
)
def test_parse_s3_url_errors_name_the_url(url: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_s3_url(url)
    assert fragment in str(caught.value) and repr(url) in str(caught.value)


# ------------------------------------------------------------------------------------- TokenBucket


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_the_burst_at_once() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_second=5, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_waits_grow_by_one_interval_per_reservation_beyond_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_second=4, burst=1, clock=clock)
    assert bucket.reserve() == 0.0
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.25, 0.5, 0.75])


def test_tokens_refill_with_time_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_second=2, burst=2, clock=clock)
    bucket.reserve()
    bucket.reserve()
    clock.now += 0.5  # one token back
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)


def test_refill_is_capped_at_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_second=10, burst=2, clock=clock)
    clock.now += 3600
    assert [bucket.reserve(), bucket.reserve()] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)


def test_waiting_the_returned_delay_pays_off_the_debt() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_second=3, burst=1, clock=clock)
    bucket.reserve()
    wait = bucket.reserve()
    assert wait == pytest.approx(1 / 3)
    clock.now += wait  # the caller sleeps as told
    assert bucket.reserve() == pytest.approx(1 / 3)  # one new interval, no more


@pytest.mark.parametrize("burst", [0, -5])
def test_burst_is_at_least_one(burst: int) -> None:
    bucket = TokenBucket(rate_per_second=1, burst=burst, clock=FakeClock())
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(1.0)


@pytest.mark.parametrize("rate", [0, -1, -0.5])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate_per_second=rate, burst=1, clock=FakeClock())


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.1, 100),
    st.integers(1, 10),
    st.lists(st.floats(0, 5), min_size=1, max_size=30),
)
def test_sleeping_as_told_never_exceeds_the_rate(rate: float, burst: int, gaps: list[float]) -> None:
    """Over any run, the reservations granted by time T are at most burst + rate * elapsed."""
    clock = FakeClock(0.0)
    bucket = TokenBucket(rate_per_second=rate, burst=burst, clock=clock)
    for granted, gap in enumerate(gaps, start=1):
        clock.now += gap
        wait = bucket.reserve()
        assert wait >= 0
        clock.now += wait
        assert granted <= burst + rate * clock.now + 1e-6


def _safe_id_by_character(identifier: str) -> str:
    """safe_id as first written, character by character: the definition the regex must keep."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in identifier)[:128]
    if not cleaned or cleaned.strip(".") == "" or cleaned != identifier:
        return "x-" + hashlib.sha256(identifier.encode()).hexdigest()[:40]
    return cleaned


@given(
    st.one_of(
        st.text(max_size=140),
        st.text(alphabet="ab-_.é١\u00b2/ \n", max_size=140),
        st.uuids().map(str),
        st.sampled_from(["", ".", "..", "a" * 128, "a" * 129, "f.json", "../x", "ª", "Ⅷ", "x\u200d"]),
    )
)
@settings(max_examples=400)
def test_safe_id_keeps_its_character_by_character_definition(identifier: str) -> None:
    assert safe_id(identifier) == _safe_id_by_character(identifier)
