"""service.core.payloads.parse_payload_bytes: the webhook's body, decoded by pydantic-core's parser and
validated once, reads exactly as `parse_payload(decode_json(body))` does, refusals included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.payloads import decode_json, parse_payload, parse_payload_bytes
from service.errors import PayloadRejected
from tests.unit.test_payloads import BARE, BODY, JSON_VALUES, VALID_BODY

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SAMPLES = sorted((REPO / "samples" / "webhooks").rglob("*.json"))


def _outcome(read: Any, body: bytes) -> tuple[str, str]:
    """What a parser makes of a body: its files (repr: NaN scores compare too) or its refusal."""
    try:
        return ("files", repr(read(body)))
    except PayloadRejected as rejected:
        return (rejected.code, rejected.message)


def _both(body: bytes) -> tuple[tuple[str, str], tuple[str, str]]:
    return _outcome(parse_payload_bytes, body), _outcome(lambda b: parse_payload(decode_json(b)), body)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON_VALUES, BODY, BARE, VALID_BODY))
def test_bytes_and_decoded_bodies_parse_alike(body: Any) -> None:
    from_bytes, decoded = _both(json.dumps(body).encode())
    assert from_bytes == decoded


@pytest.mark.parametrize("path", WEBHOOK_SAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_sample_webhook_parses_alike(path: Path) -> None:
    from_bytes, decoded = _both(path.read_bytes())
    assert from_bytes == decoded and from_bytes[0] == "files"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"null", b'"x"', b'{"result": "nope"}'],
)
def test_bodies_that_are_not_webhooks_are_refused_alike(body: bytes) -> None:
    from_bytes, decoded = _both(body)
    assert from_bytes == decoded and from_bytes[0] != "files"


def test_an_accepted_notice_the_lean_view_refuses_is_still_read() -> None:
    """`result[]` notices are not validated by the entry readers: a value they would refuse is ignored."""
    body = {"result": [{"request_file_id": "f", "page": "first"}, {"request_file_id": "f", "prediction": []}]}
    from_bytes, decoded = _both(json.dumps(body).encode())
    assert from_bytes == decoded and from_bytes[0] == "files"


def _sample_body() -> str:
    box = {"label": "total", "ocr_text": "\ud800"}
    page = {"request_file_id": "f", "page": 0, "prediction": [box]}
    return json.dumps({"result": [page]}, ensure_ascii=False)


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: "\ufeff".encode() + text.encode("utf-8", "surrogatepass"),  # a UTF-8 BOM
        lambda text: text.encode("utf-16", "surrogatepass"),
        lambda text: text.encode("utf-8", "surrogatepass").replace(b"\xed\xa0\x80", b"\\ud800"),
    ],
    ids=["utf-8 bom", "utf-16", "lone surrogate escape"],
)
def test_bodies_pydantic_cores_parser_refuses_are_read_as_json_loads_reads_them(encode: Any) -> None:
    """jiter refuses these; `json.loads` reads them, so the webhook still does (and alike)."""
    body = encode(_sample_body())
    from_bytes, decoded = _both(body)
    assert from_bytes == decoded and from_bytes[0] == "files"
