"""Builders shared by the integration and e2e tests: S3 events as AWS sends them, documents, waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote_plus

T = TypeVar("T")

RECEIPT_PAGES: list[list[dict[str, Any]]] = [
    [
        {
            "label": "fecha",
            "ocr_text": "23/12/2025",
            "score": 0.95,
            "type": "field",
            "xmin": 100,
            "ymin": 200,
            "xmax": 250,
            "ymax": 230,
            "page_no": 0,
        },
        {
            "label": "total",
            "ocr_text": "45,99 €",
            "score": 0.92,
            "type": "field",
            "xmin": 300,
            "ymin": 400,
            "xmax": 400,
            "ymax": 430,
            "page_no": 0,
        },
        {
            "label": "matricula",
            "ocr_text": "1234-ABC",
            "score": 0.88,
            "type": "field",
            "xmin": 10,
            "ymin": 20,
            "xmax": 90,
            "ymax": 40,
            "page_no": 0,
        },
        {
            "label": "lineas_detalle",
            "type": "table",
            "score": 0.89,
            "xmin": 50,
            "xmax": 500,
            "ymin": 500,
            "ymax": 700,
            "page_no": 0,
            "cells": [
                {"row": 1, "col": 1, "label": "descripcion", "text": "Gasoil", "score": 0.91},
                {"row": 1, "col": 2, "label": "cantidad", "text": "50L", "score": 0.88},
            ],
        },
    ]
]


def document_bytes(pages: list[list[dict[str, Any]]] | None = None, filler: bytes = b"") -> bytes:
    """A small PDF-looking file carrying the emulator's ground-truth marker."""
    from service.emulator.predictions import embed_prediction_marker

    return b"%PDF-1.4\n" + filler + b"\n" + embed_prediction_marker(pages or RECEIPT_PAGES) + b"\n%%EOF\n"


def s3_record(
    bucket: str,
    key: str,
    *,
    size: int = 1234,
    etag: str = "abc",
    event: str = "ObjectCreated:Put",
    version_id: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
        "sequencer": "0A1B2C",
    }
    if version_id:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "ingest",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def s3_event(bucket: str, key: str, **kw: Any) -> dict[str, Any]:
    return {"Records": [s3_record(bucket, key, **kw)]}


def sns_envelope(inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ingest",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(inner),
        "Timestamp": "2026-11-24T10:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def sqs_batch(bodies: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
                "awsRegion": "us-east-1",
            }
            for message_id, body in bodies
        ]
    }


def eventbridge_event(bucket: str, key: str, *, size: int = 1234, etag: str = "abc") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def presigned_document_url(s3: Any, key: str, bucket: str = "ingest-in") -> str:
    """Put `document_bytes()` at `key` and return a presigned GET URL the emulator can download."""
    s3.put_object(Bucket=bucket, Key=key, Body=document_bytes())
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    return url


def receipt_boxes() -> list[dict[str, Any]]:
    """RECEIPT_PAGES' only page as the emulator answers it (every box stamped page_no=0)."""
    return [dict(box, page_no=0) for box in RECEIPT_PAGES[0]]


# The page size the emulator reports with a prediction (an A4 page at 150 dpi), in pixels.
EMULATOR_PAGE_PIXELS = (1240, 1754)


def printed_receipt(
    lines: list[str], fields: dict[str, tuple[str, float]], page_pixels: tuple[int, int] | None = None
) -> tuple[bytes, list[list[dict[str, Any]]]]:
    """A real one-page A4 PDF printing `lines`, whose emulator prediction boxes sit exactly on the printed
    values: `fields` maps a label to (text printed on one of the lines, score). Boxes are measured from the
    top in PDF points, or in the pixels of a `page_pixels` rendering of the page (what Nanonets reports)."""
    import pypdfium2 as pdfium

    from scripts.make_samples import pdf_bytes
    from service.emulator.predictions import embed_prediction_marker

    document = pdfium.PdfDocument(pdf_bytes([lines], b""))  # the layout does not depend on the marker
    page = document[0]
    text, (width, height) = page.get_textpage(), page.get_size()
    scale = page_pixels[0] / width if page_pixels else 1.0
    boxes: list[dict[str, Any]] = []
    for label, (value, score) in fields.items():
        found = text.search(value).get_next()
        assert found, f"{value!r} is not printed on the page"
        start, count = found
        chars = [text.get_charbox(index) for index in range(start, start + count)]
        left, bottom = min(c[0] for c in chars), min(c[1] for c in chars)
        right, top = max(c[2] for c in chars), max(c[3] for c in chars)
        boxes.append(
            {
                "label": label,
                "ocr_text": value,
                "score": score,
                "type": "field",
                "xmin": round((left - 2) * scale),
                "ymin": round((height - top - 2) * scale),
                "xmax": round((right + 2) * scale),
                "ymax": round((height - bottom + 2) * scale),
                "page_no": 0,
            }
        )
    document.close()
    return pdf_bytes([lines], embed_prediction_marker([boxes])), [boxes]


BAD_PLATE_LINES = [
    "REPSOL - E.S. Alcobendas Norte",
    "CIF A-78374725",
    "Fecha: 04/11/2026  08:41",
    "Matricula: 4821 KLM",
    "Gasoleo A   41,60 L x 1,500",
    "TOTAL: 62,40 EUR",
]


def bad_plate_receipt(page_pixels: tuple[int, int] | None = None) -> tuple[bytes, list[list[dict[str, Any]]]]:
    """A fuel receipt whose plate (`4821 KLM`, with a space) fails the sample rules' pattern."""
    return printed_receipt(
        BAD_PLATE_LINES,
        {
            "fecha": ("04/11/2026", 0.97),
            "matricula": ("4821 KLM", 0.91),
            "litros": ("41,60 L", 0.88),
            "total": ("62,40 EUR", 0.95),
        },
        page_pixels,
    )
