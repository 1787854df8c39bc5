"""Helpers only the tests use: waiting, listing keys, presigned sample documents, the receipt's boxes, a
`/metrics` scrape read back into figures.

S3 event builders live in `devtools.events`, sample documents in `devtools.documents` (demo, bench and soak
use them too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.predictions import embed_prediction_marker
from scripts.make_samples import Reading
from scripts.printed import PDF_PAGE_PIXELS, pdf_bytes, pdf_rects
from service.observability.catalog import PROMETHEUS_NAMESPACE

T = TypeVar("T")


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
    """RECEIPT_PAGES' only page as the emulator answers it (every box stamped with its page, 0)."""
    return [dict(box, page=0) for box in RECEIPT_PAGES[0]]


@dataclass(frozen=True)
class MetricsView:
    """A Prometheus scrape by the catalogue's names (`documents_submitted_total`); sample suffixes (`_count`,
    `_sum`, `_bucket`) follow Prometheus."""

    samples: tuple[Sample, ...]

    @classmethod
    def parse(cls, text: str) -> MetricsView:
        families = text_string_to_metric_families(text)
        return cls(tuple(sample for family in families for sample in family.samples))

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
        full = f"{PROMETHEUS_NAMESPACE}_{name}"
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == full and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def by_label(self, name: str, label: str) -> dict[str, float]:
        """`name` summed per value of one label, e.g. quarantines per reason."""
        full = f"{PROMETHEUS_NAMESPACE}_{name}"
        sums: dict[str, float] = {}
        for sample in self.samples:
            if sample.name == full and label in sample.labels:
                sums[sample.labels[label]] = sums.get(sample.labels[label], 0.0) + sample.value
        return sums


# The page size the emulator reports with a PDF's prediction (an A4 page at 150 dpi), in pixels.
EMULATOR_PAGE_PIXELS = PDF_PAGE_PIXELS


def printed_receipt(
    lines: list[str], fields: dict[str, tuple[str, float]], page_pixels: tuple[int, int] | None = None
) -> tuple[bytes, list[list[dict[str, Any]]]]:
    """A real one-page A4 PDF printing `lines`, whose emulator prediction boxes sit exactly on the printed
    values: `fields` maps a label to (text printed on one of the lines, score). Boxes are measured from the
    top in PDF points, or in the pixels of a `page_pixels` rendering of the page (what Nanonets reports)."""
    rects = pdf_rects([lines], [(0, value) for value, _ in fields.values()], page_pixels)
    readings = [Reading(label, value, score) for label, (value, score) in fields.items()]
    boxes = [reading.box(rect, 0) for reading, rect in zip(readings, rects, strict=True)]
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
