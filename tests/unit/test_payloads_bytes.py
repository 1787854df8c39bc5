"""service.core.payloads.parse_payload_bytes: the webhook's body validated once, from its bytes, reads
exactly as `parse_payload(decode_json(body))` does, refusals included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.payloads import FROM_BYTES_MAX, decode_json, parse_payload, parse_payload_bytes
from service.errors import PayloadRejected
from service.models.nanonets import FilePrediction
from tests.unit.test_payloads import BARE, BODY, JSON_VALUES, VALID_BODY

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SAMPLES = sorted((REPO / "samples" / "webhooks").rglob("*.json"))


def _outcome(read: Any, body: bytes) -> tuple[str, str]:
    """What a parser makes of a body: its files (repr: NaN scores compare too) or its refusal."""
    try:
        return ("files", repr(read(body)))
    except PayloadRejected as rejected:
        return (rejected.code, rejected.message)


def _both(body: bytes, from_bytes_max: int = FROM_BYTES_MAX) -> tuple[tuple[str, str], tuple[str, str]]:
    def read(b: bytes) -> list[FilePrediction]:
        return parse_payload_bytes(b, from_bytes_max=from_bytes_max)

    return _outcome(read, body), _outcome(lambda b: parse_payload(decode_json(b)), body)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON_VALUES, BODY, BARE, VALID_BODY), st.sampled_from([FROM_BYTES_MAX, 0]))
def test_bytes_and_decoded_bodies_parse_alike(body: Any, from_bytes_max: int) -> None:
    """Small bodies are validated from their bytes, large ones (here: every one, at 0) once decoded."""
    from_bytes, decoded = _both(json.dumps(body).encode(), from_bytes_max)
    assert from_bytes == decoded


@pytest.mark.parametrize("from_bytes_max", [FROM_BYTES_MAX, 0])
@pytest.mark.parametrize("path", WEBHOOK_SAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_sample_webhook_parses_alike(path: Path, from_bytes_max: int) -> None:
    from_bytes, decoded = _both(path.read_bytes(), from_bytes_max)
    assert from_bytes == decoded and from_bytes[0] == "files"


@pytest.mark.parametrize("from_bytes_max", [FROM_BYTES_MAX, 0])
@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"null", b'"x"', b'{"result": "nope"}'],
)
def test_bodies_that_are_not_webhooks_are_refused_alike(body: bytes, from_bytes_max: int) -> None:
    from_bytes, decoded = _both(body, from_bytes_max)
    assert from_bytes == decoded and from_bytes[0] != "files"


def test_an_accepted_notice_the_lean_view_refuses_is_still_read() -> None:
    """`result[]` notices are not validated by the entry readers: a value they would refuse is ignored."""
    body = {"result": [{"request_file_id": "f", "page": "first"}, {"request_file_id": "f", "prediction": []}]}
    for from_bytes_max in (FROM_BYTES_MAX, 0):
        from_bytes, decoded = _both(json.dumps(body).encode(), from_bytes_max)
        assert from_bytes == decoded and from_bytes[0] == "files"
