"""Documents the emulator answers exactly: `RECEIPT_PAGES`, a one-page fuel receipt's ground truth, and
`document_bytes`, a small PDF-looking file carrying it (or any pages) in the emulator's marker."""

from __future__ import annotations

from typing import Any

from devtools.emulator.predictions import embed_prediction_marker

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
    return b"%PDF-1.4\n" + filler + b"\n" + embed_prediction_marker(pages or RECEIPT_PAGES) + b"\n%%EOF\n"
