"""Pure pieces of the pipeline: review merging, document identity, JSON decoding, pacing."""

from __future__ import annotations

import pytest

from service.core.digest import document_digest
from service.core.pacing import TokenBucket
from service.core.payloads import decode_json
from service.errors import PayloadRejected
from service.models.document import NanonetsRef, NormalizedDocument, SourceRef
from service.usecases.complete import merge_review


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        (None, "pending", "pending"),
        ("pending", "approved", "approved"),
        ("approved", "pending", "approved"),  # a late inference webhook does not undo a review
        ("rejected", "pending", "rejected"),
        ("approved", "rejected", "rejected"),
        ("rejected", "approved", "approved"),
        ("auto_approved", "approved", "auto_approved"),  # our own approval, echoed back
        ("auto_approved", "pending", "auto_approved"),
        ("auto_approved", "rejected", "rejected"),
    ],
)
def test_merge_review(current: str | None, incoming: str, expected: str) -> None:
    assert merge_review(current, incoming) == expected  # type: ignore[arg-type]


def _document(processed_at: str, review: str = "pending") -> NormalizedDocument:
    return NormalizedDocument(
        source=SourceRef(bucket="in", key="incoming/a.pdf"),
        nanonets=NanonetsRef(model_id="m", request_file_id="f"),
        pages=1,
        review=review,  # type: ignore[arg-type]
        processed_at=processed_at,
    )


def test_document_digest_ignores_processing_time_only() -> None:
    first = _document("2026-01-01T00:00:00Z")
    assert document_digest(first) == document_digest(_document("2026-06-01T00:00:00Z"))
    assert document_digest(first) != document_digest(_document("2026-01-01T00:00:00Z", review="approved"))


@pytest.mark.parametrize("body", [b"{nope", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b""])
def test_decode_json_rejects_with_a_type(body: bytes) -> None:
    with pytest.raises(PayloadRejected) as caught:
        decode_json(body)
    assert caught.value.code == "not_json"


def test_decode_json_accepts_json() -> None:
    assert decode_json(b'{"a": [1, 2]}') == {"a": [1, 2]}


def test_token_bucket_allows_a_burst_then_paces() -> None:
    now = [100.0]
    bucket = TokenBucket(rate_per_second=2.0, burst=2, clock=lambda: now[0])
    assert [bucket.reserve(), bucket.reserve()] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)
    now[0] += 10  # refills up to the burst, not beyond
    assert [bucket.reserve(), bucket.reserve()] == [0.0, 0.0]
    assert bucket.reserve() > 0


def test_token_bucket_refuses_a_nonpositive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate_per_second=0, burst=1, clock=lambda: 0.0)
