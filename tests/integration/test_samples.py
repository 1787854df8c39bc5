"""The committed samples replayed: every document through S3 + emulator, every event and webhook shape.

The expected outputs in samples/expected/ were written by hand in scripts/make_samples.py (what a person
reads on the document), so a normalizer regression shows up here as a diff against them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.emulator.control import EmulatorControl
from devtools.emulator.predictions import predict
from devtools.stack import REPO
from service.bootstrap import build, utc_now
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload
from service.core.rules import load_rules
from service.models.document import NormalizedDocument
from service.models.events import ObjectEvent, unwrap_event
from service.models.source import SourceRef
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET

SAMPLES = REPO / "samples"
DOCUMENTS = sorted((SAMPLES / "documents").iterdir())
RULES = SAMPLES / "rules" / "fuel-receipts.yaml"


def expected_for(document: Path) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / "expected" / f"{document.name}.json").read_text()))


def assert_matches_expected(output: dict[str, Any], expected: dict[str, Any]) -> None:
    assert output["source"]["key"] == expected["key"]
    assert output["pages"] == expected["pages"]
    for label, want in expected["fields"].items():
        got = output["fields"][label]
        for name in ("value", "normalized", "type", "page"):
            if name in want:
                assert got[name] == want[name], (label, name, got)
        if "others" in want:
            assert len(got["others"]) == want["others"], (label, got)
    assert [(t["label"], t["page"], t["rows"]) for t in output["tables"]] == [
        (t["label"], t["page"], t["rows"]) for t in expected["tables"]
    ]
    assert output["validation"]["status"] == expected["validation"]["status"]
    codes = sorted([issue["field"], issue["code"]] for issue in output["validation"]["issues"])
    assert codes == sorted(expected["validation"]["codes"])


def test_there_are_pdf_jpg_and_multipage_samples() -> None:
    suffixes = {p.suffix for p in DOCUMENTS}
    assert {".pdf", ".jpg"} <= suffixes
    assert any(expected_for(p)["pages"] > 1 for p in DOCUMENTS)
    for document in DOCUMENTS:
        content = document.read_bytes()
        assert content.startswith(b"%PDF-" if document.suffix == ".pdf" else b"\xff\xd8\xff")
        # The emulator reads the embedded ground truth, not a hash of the bytes.
        assert len(predict(content, document.name)) == expected_for(document)["pages"]


def test_every_sample_document_ends_as_its_expected_output(
    make_settings: Any, s3: Any, emulator_url: str
) -> None:
    settings = make_settings(validation_rules=str(RULES))
    service = build(settings)
    EmulatorControl(emulator_url).config(webhooks_enabled=False)
    for document in DOCUMENTS:
        key = f"incoming/{document.name}"
        s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=document.read_bytes())
        assert service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key=key)).status == "submitted"
    assert EmulatorControl(emulator_url).flush()

    summary = service.recovery.reconcile(older_than_seconds=0, limit=100)

    assert summary.completed == len(DOCUMENTS)
    for document in DOCUMENTS:
        body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"normalized/{document.name}.json")["Body"].read()
        output = json.loads(body)
        NormalizedDocument.model_validate(output)
        assert_matches_expected(output, expected_for(document))


@pytest.mark.parametrize("envelope", ["s3-direct.json", "sns.json", "sqs.json", "eventbridge.json"])
def test_every_sample_event_envelope_names_the_same_object(envelope: str) -> None:
    payload = json.loads((SAMPLES / "events" / envelope).read_text())
    unwrapped = unwrap_event(payload)
    objects = [item for item in unwrapped.items if isinstance(item, ObjectEvent)]
    assert [(o.bucket, o.key) for o in objects] == [
        ("nanonets-ingest-demo-in", "incoming/fuel-receipt-repsol-2026-11-04.pdf")
    ]


@pytest.mark.parametrize("shape", ["prediction-result.json", "moderated-file.json"])
def test_both_sample_webhook_shapes_normalize_to_the_invoice(shape: str) -> None:
    body = json.loads((SAMPLES / "webhooks" / shape).read_text())
    [prediction] = parse_payload(body)
    invoice = SAMPLES / "documents" / "invoice-transportes-norte-2026-10.pdf"
    expected = expected_for(invoice)
    document = normalize_file(
        prediction,
        source=SourceRef(bucket="nanonets-ingest-demo-in", key=expected["key"]),
        model_id="demo",
        rules=load_rules(RULES),
        review=prediction.review,
        processed_at=utc_now(),
    )
    assert_matches_expected(document.model_dump(mode="json"), expected)
    assert document.nanonets.request_metadata == {
        "bucket": "nanonets-ingest-demo-in",
        "key": expected["key"],
    }
    assert document.review == ("approved" if shape == "moderated-file.json" else "pending")
