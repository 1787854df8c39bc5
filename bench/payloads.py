"""Realistic documents and webhook bodies for the bench.

A page is a fuel receipt as the samples have them (samples/documents): date, total, plate and supplier
fields plus a `lineas_detalle` table of three rows by three columns. A file of N pages is a batch of N
scanned receipts in one PDF, so every label repeats on every page (the normalizer keeps the best and lists
the others). Webhook bodies have the emulator's prediction-result shape (docs/EMULATOR.md), the one
Nanonets POSTs by default: `result[]` one entry per page.
"""

from __future__ import annotations

import json
from typing import Any

from devtools.emulator.predictions import embed_prediction_marker
from scripts.make_samples import box, table

Pages = list[list[dict[str, Any]]]
SUPPLIERS = ("Repsol", "Cepsa", "BP", "Galp", "Shell", "Petronor")


def page(index: int, seed: int = 0) -> list[dict[str, Any]]:
    """One receipt: 4 fields and a 3x3 table, values varying with the page and the seed."""
    n = index + seed
    day = 1 + n % 28
    rows = [
        {
            "descripcion": ("Gasoleo A", "Sin Plomo 95", "AdBlue")[r],
            "cantidad": f"{20 + (n + r) % 40},{(n * 7 + r) % 100:02d} L",
            "importe": f"{30 + (n * 3 + r) % 70},{(n * 11 + r) % 100:02d} EUR",
        }
        for r in range(3)
    ]
    return [
        box("fecha", f"{day:02d}/11/2026", 0.9 + (n % 9) / 100, 120, index),
        box("total", f"{40 + n % 60},{n % 100:02d} €", 0.85 + (n % 13) / 100, 240, index),
        box("matricula", f"{1000 + n % 9000}-KLM", 0.8 + (n % 17) / 100, 150, index),
        box("proveedor", SUPPLIERS[n % len(SUPPLIERS)], 0.9, 90, index),
        table("lineas_detalle", rows, 190, index),
    ]


def pages(count: int, seed: int = 0) -> Pages:
    return [page(index, seed) for index in range(count)]


def document_bytes(file_pages: Pages, tag: str) -> bytes:
    """A small PDF-looking file carrying the emulator's ground truth, unique per `tag`."""
    return b"%PDF-1.4\n% bench " + tag.encode() + b"\n" + embed_prediction_marker(file_pages) + b"\n%%EOF\n"


def webhook_body(
    request_file_id: str, file_pages: Pages, request_metadata: str | None, name: str = "receipts.pdf"
) -> dict[str, Any]:
    """What the emulator (and Nanonets) POSTs when a prediction is ready: `result[]`, one entry per page."""
    return {
        "message": "Success",
        "result": [
            {
                "message": "Success",
                "input": name,
                "prediction": boxes,
                "page": index,
                "request_file_id": request_file_id,
                "id": f"{request_file_id}-page-{index}",
                "request_metadata": request_metadata,
                "processing_type": "async",
                "size": {"width": 1240, "height": 1754},
            }
            for index, boxes in enumerate(file_pages)
        ],
        "signed_urls": {},
    }


def body_bytes(body: dict[str, Any]) -> bytes:
    """Compact JSON on one line (the wrk script reads one body per line)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
