"""The live webhook shapes of `samples/webhooks/live-*.json` and their expected outputs.

`python -m scripts.make_samples` calls `write_live_samples` after writing the seed samples. Each body is
one shape that live Nanonets sends (shared NANONETS_LIVE.md), built from the boxes of a sample document
of `scripts/make_samples.py`, with the `request_metadata` the service sends (a JSON string of bucket, key,
etag, version_id, token and digest; no file id in it). A person's corrections sit in `moderated_boxes`.

The expected outputs in `samples/expected/webhooks/` are the normalizer's answer, reviewed by hand when
written: `tests/unit/test_live_samples.py` replays each body, compares the whole document (all but
`processed_at`) and checks the facts each sample exists for (corrected value, model guess, scores, sizes)
by name, so a regeneration that changed them would not pass unnoticed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.make_samples import DEMO_INPUT_BUCKET, SAMPLE_DOCUMENTS, Sample, document_bytes, write_json
from scripts.printed import JPEG_PIXELS, PDF_PAGE_PIXELS, pdf_rects
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload
from service.core.rules import load_rules
from service.models.document import SourceRef
from service.models.source import object_digest, source_token

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
RULES = SAMPLES / "rules" / "fuel-receipts.yaml"
LIVE_MODEL_ID = "7e3b1a52-4c1d-4f0e-9a57-2f6d8c0b1e43"
PROCESSED_AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PDF_PAGE = {"width": PDF_PAGE_PIXELS[0], "height": PDF_PAGE_PIXELS[1]}  # an A4 page rendered at 150 dpi
JPG_PAGE = {"width": JPEG_PIXELS[0], "height": JPEG_PIXELS[1]}  # the sample JPEGs' own pixels

Body = dict[str, Any] | list[dict[str, Any]]


def sample(name_start: str) -> Sample:
    return next(s for s in SAMPLE_DOCUMENTS if s.name.startswith(name_start))


def file_id(name: str) -> str:
    """A stable UUID-shaped request_file_id per sample document."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


def our_metadata(doc: Sample) -> str:
    """What `Pipeline.submit_object` sends as request_metadata for this document."""
    etag = hashlib.md5(document_bytes(doc)).hexdigest()  # an S3 ETag, not security
    return json.dumps(
        {
            "bucket": DEMO_INPUT_BUCKET,
            "key": doc.key,
            "etag": etag,
            "version_id": None,
            "token": source_token(etag, None),
            "digest": object_digest(DEMO_INPUT_BUCKET, doc.key),
        }
    )


def live_boxes(doc: Sample, index: int) -> list[dict[str, Any]]:
    """The sample's boxes of one page as live traffic writes them: ids, box-level `page`, no `page_no`."""
    boxes = []
    for position, box in enumerate(doc.pages[index]):
        live = {key: value for key, value in box.items() if key != "page_no"}
        live.update(
            id=f"{file_id(doc.name)[:8]}-b{index}{position}",
            label_id=f"label-{box['label']}",
            page=index,
            status="correctly_predicted",
            validation_status="success",
        )
        boxes.append(live)
    return boxes


def corrected(boxes: list[dict[str, Any]], label: str, text: str) -> list[dict[str, Any]]:
    """The boxes after a person corrected one value in Nanonets (the score of the box stays)."""
    moderated = copy.deepcopy(boxes)
    for box in moderated:
        if box["label"] == label:
            box.update(ocr_text=text, status="moderated", lookup_edited=False)
    return moderated


def page_object(doc: Sample, index: int, size: dict[str, int], **fields: Any) -> dict[str, Any]:
    """A page object as retrieval answers and newer webhooks carry it."""
    request_file_id = file_id(doc.name)
    return {
        "model_id": LIVE_MODEL_ID,
        "day_since_epoch": 20781,
        "hour_of_day": 9,
        "is_moderated": False,
        "id": f"{request_file_id[:8]}-page-{index}",
        "url": f"uploadedfiles/{request_file_id}/PredictionImages/{index}.jpeg",
        "predicted_boxes": live_boxes(doc, index),
        "moderated_boxes": None,
        "size": size,
        "page": index,
        "request_file_id": request_file_id,
        "original_file_name": doc.name,
        "request_metadata": our_metadata(doc),
        "approval_status": "pending",
        "current_stage_id": "",
        "export_status": "",
        "assigned_members": [],
        "updated_at": "2026-11-24T08:59:00Z",
        **fields,
    }


def export_approved_with_correction() -> Body:
    """Per-document export after approval: the blurred galp total (0.31) corrected to 45,90 €."""
    doc = sample("fuel-receipt-galp")
    boxes = live_boxes(doc, 0)
    return {
        "result": {
            "id": file_id(doc.name),
            "request_file_id": file_id(doc.name),
            "model_id": LIVE_MODEL_ID,
            "input": doc.name,
            "approval_status": "approved",
            "request_metadata": our_metadata(doc),
            "predicted_boxes": boxes,
            "moderated_boxes": corrected(boxes, "total", "45,90 €"),
            "updated_at": "2026-11-24T08:59:00Z",
        }
    }


def prediction_nested() -> Body:
    """The prediction response of older accounts, one level deeper: `result[0].result[...]`."""
    doc = sample("invoice-transportes-norte")
    pages = [
        {
            "message": "Success",
            "input": doc.name,
            "prediction": live_boxes(doc, index),
            "page": index,
            "request_file_id": file_id(doc.name),
            "filepath": f"uploadedfiles/{file_id(doc.name)}/PredictionImages/{index}.jpeg",
            "id": f"{file_id(doc.name)[:8]}-page-{index}",
            "request_metadata": our_metadata(doc),
            "processing_type": "async",
            "size": PDF_PAGE,
        }
        for index in range(len(doc.pages))
    ]
    return {"message": "Success", "result": [{"message": "Success", "result": pages}]}


def bare_array() -> Body:
    """A bare JSON array of page objects (what Nanonets' own post-processing step receives)."""
    doc = sample("fuel-receipt-repsol")
    return [page_object(doc, index, PDF_PAGE) for index in range(len(doc.pages))]


def retrieval_with_review() -> Body:
    """GetPredictions after review and approval: the cepsa plate read `7310 HJT` corrected to `7310-HJT`."""
    doc = sample("fuel-receipt-cepsa")
    page = page_object(doc, 0, JPG_PAGE, is_moderated=True, approval_status="approved")
    page["moderated_boxes"] = corrected(page["predicted_boxes"], "matricula", "7310-HJT")
    return {
        "moderated_images_count": 1,
        "unmoderated_images_count": 0,
        "moderated_images": [page],
        "unmoderated_images": [],
        "signed_urls": {},
    }


def table_scores() -> Body:
    """A per-document export, not reviewed, whose table and cells are scored 99.99 (0-100) and 0 (not
    scored), as in the API reference and live data. The total is not scored either (and read once, so
    no scored reading outranks it): it must not fail the rules' min_confidence as if it were 0."""
    doc = sample("fuel-receipt-bp")
    boxes = [box for box in live_boxes(doc, 0) if box["ocr_text"] != "41,62 €"]
    for box in boxes:
        if box["label"] == "total":
            box["score"] = 0
    cells = [
        {"row": 1, "col": 1, "row_span": 1, "col_span": 1, "label": "descripcion", "text": "Ultimate Diesel"},
        {"row": 1, "col": 2, "row_span": 1, "col_span": 1, "label": "cantidad", "text": "27,35 L"},
        {"row": 1, "col": 3, "row_span": 1, "col_span": 1, "label": "importe", "text": "41,02 EUR"},
    ]
    for cell, score in zip(cells, (99.99, 0, 99.99902), strict=True):
        cell.update(
            score=score, verification_status="correctly_predicted", failed_validation="", row_label=""
        )
    boxes.append(
        {
            "id": f"{file_id(doc.name)[:8]}-table",
            "label": "lineas_detalle",
            "type": "table",
            "score": 0,
            "ocr_text": "table",
            **pdf_rects(doc.lines, [(0, "Ultimate Diesel 27,35 L")])[0].coordinates(),  # its printed row
            "page": 0,
            "cells": cells,
        }
    )
    return {
        "result": {
            "id": file_id(doc.name),
            "model_id": LIVE_MODEL_ID,
            "input": doc.name,
            "approval_status": "pending",
            "request_metadata": our_metadata(doc),
            "predicted_boxes": boxes,
            "moderated_boxes": None,
        }
    }


LIVE_BODIES: dict[str, Callable[[], Body]] = {
    "live-export-approved-with-correction.json": export_approved_with_correction,
    "live-prediction-nested.json": prediction_nested,
    "live-bare-array.json": bare_array,
    "live-retrieval-reviewed.json": retrieval_with_review,
    "live-table-scores.json": table_scores,
}


def expected_output(body: Body) -> dict[str, Any]:
    """The normalized document the service writes for `body`, with the fuel-receipt rules."""
    [prediction] = parse_payload(body)
    metadata = prediction.request_metadata or {}
    document = normalize_file(
        prediction,
        source=SourceRef(
            bucket=metadata["bucket"],
            key=metadata["key"],
            etag=metadata["etag"],
            version_id=metadata["version_id"],
        ),
        model_id=LIVE_MODEL_ID,  # the pipeline writes the model of its ledger record
        rules=load_rules(RULES),
        review=prediction.review,
        processed_at=PROCESSED_AT,
    )
    return dict(json.loads(document.to_json_bytes()))


def write_live_samples(samples: Path = SAMPLES) -> None:
    for name, build in LIVE_BODIES.items():
        body = build()
        write_json(samples / "webhooks" / name, body)
        write_json(samples / "expected" / "webhooks" / name, expected_output(body))


if __name__ == "__main__":
    write_live_samples()
    print(f"wrote {len(LIVE_BODIES)} live webhook bodies and their expected outputs under {SAMPLES}")
