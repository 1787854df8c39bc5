"""Deterministic predictions from a document's bytes and name (docs/EMULATOR.md, "Predictions").

Sample documents carry their ground truth between `NNEMU-BEGIN` and `NNEMU-END` (base64 JSON); anything else
gets fields derived from a SHA-256 of its bytes, so the same bytes always give the same answer. Every box
says its own `page`, as live boxes do. Scores here are 0-1; `bodies.scaled_boxes` puts them on live scales.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

BEGIN, END = b"NNEMU-BEGIN", b"NNEMU-END"
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
SUPPLIERS = ("Repsol", "Cepsa", "BP", "Galp", "Shell", "Petronor", "Ballenoil", "Plenoil")

Pages = list[list[dict[str, Any]]]


def embed_prediction_marker(pages: Pages) -> bytes:
    """The bytes a sample document embeds so the emulator answers exactly `pages`."""
    payload = base64.b64encode(json.dumps({"pages": pages}, ensure_ascii=False).encode("utf-8"))
    return BEGIN + payload + END


def predict(content: bytes, name: str) -> Pages:
    embedded = _embedded_pages(content)
    if embedded is not None:
        return embedded
    lowered = name.lower()
    if "blank" in lowered:
        return [[] for _ in range(_page_count(content))]
    pages = _generated_pages(content, _page_count(content))
    if "lowconf" in lowered:
        for page in pages:
            for box in page:
                box["score"] = 0.2
    return pages


def _embedded_pages(content: bytes) -> Pages | None:
    start = content.find(BEGIN)
    end = content.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    try:
        decoded = json.loads(base64.b64decode(content[start + len(BEGIN) : end], validate=True))
    except (binascii.Error, ValueError):
        return None
    pages = decoded.get("pages") if isinstance(decoded, dict) else None
    if not isinstance(pages, list) or not all(isinstance(p, list) for p in pages):
        return None
    return [
        [dict(box, page=index) for box in page if isinstance(box, dict)] for index, page in enumerate(pages)
    ]


def _page_count(content: bytes) -> int:
    if content.startswith(b"%PDF"):
        return max(1, len(_PDF_PAGE.findall(content)))
    return 1


def _box(label: str, text: str, score: float, page: int, row: int) -> dict[str, Any]:
    top = 100 + 60 * row
    return {
        "id": hashlib.sha1(f"{label}{page}{row}".encode()).hexdigest()[:12],  # noqa: S324 - an id, not security
        "label": label,
        "ocr_text": text,
        "score": score,
        "type": "field",
        "xmin": 80,
        "ymin": top,
        "xmax": 420,
        "ymax": top + 30,
        "status": "correctly_predicted",
        "page": page,
        "label_id": f"label_{label}",
    }


def _generated_pages(content: bytes, count: int) -> Pages:
    digest = hashlib.sha256(content).digest()
    day, month = 1 + digest[0] % 28, 1 + digest[1] % 12
    cents = (digest[2] * 256 + digest[3]) % 20000 + 100
    litres = 10 + digest[5] % 60
    total = f"{cents // 100},{cents % 100:02d} €"
    first = [
        _box("fecha", f"{day:02d}/{month:02d}/2025", 0.9 + digest[6] % 10 / 100, 0, 0),
        _box("total", total, 0.85 + digest[7] % 10 / 100, 0, 1),
        _box("proveedor", SUPPLIERS[digest[4] % len(SUPPLIERS)], 0.8 + digest[8] % 10 / 100, 0, 2),
        {
            "label": "lineas_detalle",
            "type": "table",
            "score": 0.88,
            "xmin": 50,
            "ymin": 400,
            "xmax": 500,
            "ymax": 600,
            "page": 0,
            "cells": [
                {"row": 1, "col": 1, "label": "descripcion", "text": "Gasoil", "score": 0.91},
                {"row": 1, "col": 2, "label": "cantidad", "text": f"{litres}L", "score": 0.9},
                {"row": 2, "col": 1, "label": "descripcion", "text": "AdBlue", "score": 0.87},
                {"row": 2, "col": 2, "label": "cantidad", "text": "5L", "score": 0.86},
            ],
        },
    ]
    rest = [[_box("observaciones", f"pagina {index + 1}", 0.75, index, 0)] for index in range(1, count)]
    return [first, *rest]
