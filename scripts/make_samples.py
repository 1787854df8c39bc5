"""Generate `samples/`: documents (PDF and JPG), S3 events, webhook bodies and expected outputs.

`python -m scripts.make_samples` rewrites the folder. Each document is a real, viewable PDF or JPEG that
prints its receipt or invoice and carries the emulator's ground truth (docs/EMULATOR.md, "Predictions") in
a PDF comment or a JPEG COM segment, so the emulator answers exactly the boxes listed here. Each box is
measured on the document (scripts/printed.py) around the text it was read from, in the page size the
emulator reports, so the review console draws it on the printed value.

The expected outputs are written from the `expect` blocks below (what a person reading the document would
type), not from running our normalizer, so replaying them is a real check of the code.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from devtools.emulator.predictions import embed_prediction_marker
from scripts.printed import Rect, jpeg_bytes, jpeg_rects, pdf_bytes, pdf_rects

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DEMO_INPUT_BUCKET = "nanonets-ingest-demo-in"
INPUT_PREFIX = "incoming/"


@dataclass(frozen=True)
class Reading:
    """A field Nanonets reads: its text and score, and the printed text its box frames when the reading is
    not printed as such (a total printed `62,40 EUR` read as `62,40 €`, a blurred one read anyway)."""

    label: str
    text: str
    score: float
    printed: str = ""

    def framed(self) -> list[str]:
        return [self.printed or self.text]

    def box(self, rect: Rect, page: int) -> dict[str, Any]:
        return {
            "label": self.label,
            "ocr_text": self.text,
            "score": self.score,
            "type": "field",
            **rect.coordinates(),
            "page_no": page,
        }


@dataclass(frozen=True)
class TableReading:
    """A table Nanonets reads: its rows, and the printed lines its box frames."""

    label: str
    rows: list[dict[str, str]]
    printed: list[str]

    def framed(self) -> list[str]:
        return self.printed

    def box(self, rect: Rect, page: int) -> dict[str, Any]:
        cells = [
            {"row": r, "col": c, "label": column, "text": text, "score": 0.9}
            for r, row in enumerate(self.rows, start=1)
            for c, (column, text) in enumerate(row.items(), start=1)
        ]
        return {
            "label": self.label,
            "type": "table",
            "score": 0.9,
            **rect.coordinates(),
            "page_no": page,
            "cells": cells,
        }


def box(label: str, text: str, score: float, y: int, page: int = 0) -> dict[str, Any]:
    """A field box at made-up coordinates, for payloads no one looks at (bench)."""
    return Reading(label, text, score).box(Rect(60, y, 420, y + 24), page)


def table(label: str, rows: list[dict[str, str]], y: int, page: int = 0) -> dict[str, Any]:
    """A table box at made-up coordinates, for payloads no one looks at (bench)."""
    return TableReading(label, rows, []).box(Rect(40, y, 560, y + 40 * len(rows)), page)


@dataclass
class Sample:
    name: str
    lines: list[list[str]]  # printed text, one list per page
    readings: list[list[Reading | TableReading]]  # what Nanonets (the emulator) reads, page by page
    expect: dict[str, Any] = field(default_factory=dict)
    route: str = "receipts"  # its route in samples/routes.yaml; the demo uploads it under that prefix

    @property
    def key(self) -> str:
        return INPUT_PREFIX + self.name

    @cached_property
    def pages(self) -> list[list[dict[str, Any]]]:
        """The boxes the emulator answers, each framing where the document prints what it read."""
        return [
            [reading.box(self._where_printed(index, reading.framed()), index) for reading in readings]
            for index, readings in enumerate(self.readings)
        ]

    def _where_printed(self, page: int, texts: list[str]) -> Rect:
        if self.name.endswith(".pdf"):
            rects = pdf_rects(self.lines, [(page, text) for text in texts])
        else:
            rects = jpeg_rects(self.lines[page], texts)
        return functools.reduce(Rect.union, rects)


LINES_RECEIPT_ITEMS = [{"descripcion": "Gasoleo A", "cantidad": "41,60 L", "importe": "62,40 EUR"}]

SAMPLE_DOCUMENTS = [
    Sample(
        name="fuel-receipt-repsol-2026-11-04.pdf",
        lines=[
            [
                "REPSOL - E.S. Alcobendas Norte",
                "CIF A-78374725",
                "Fecha: 04/11/2026  08:41",
                "Matricula: 4821-KLM",
                "Gasoleo A   41,60 L x 1,500",
                "TOTAL: 62,40 EUR",
            ]
        ],
        readings=[
            [
                Reading("fecha", "04/11/2026", 0.97),
                Reading("matricula", "4821-KLM", 0.93),
                Reading("total", "62,40 €", 0.95, printed="62,40 EUR"),
                TableReading("lineas_detalle", LINES_RECEIPT_ITEMS, ["Gasoleo A   41,60 L x 1,500"]),
            ]
        ],
        expect={
            "pages": 1,
            "fields": {
                "fecha": {"value": "04/11/2026", "normalized": "2026-11-04", "type": "date"},
                "total": {"value": "62,40 €", "normalized": 62.4, "type": "amount"},
                "matricula": {"value": "4821-KLM", "normalized": "4821-KLM", "type": "text"},
            },
            "tables": [{"label": "lineas_detalle", "page": 0, "rows": LINES_RECEIPT_ITEMS}],
            "validation": {"status": "passed", "codes": []},
        },
    ),
    Sample(
        name="fuel-receipt-cepsa-2026-11-09.jpg",
        lines=[
            [
                "CEPSA  Estacion de Servicio",
                "Autovia A-2 km 34",
                "09-11-26  17:05",
                "Vehiculo: 7310 HJT",
                "Diesel Star  58,20 L",
                "Importe total  88,15 EUR",
            ]
        ],
        readings=[
            [
                Reading("fecha", "09-11-26", 0.91),
                Reading("matricula", "7310 HJT", 0.86),
                Reading("total", "88,15 EUR", 0.9),
            ]
        ],
        expect={
            "pages": 1,
            "fields": {
                "fecha": {"value": "09-11-26", "normalized": "2026-11-09", "type": "date"},
                "total": {"value": "88,15 EUR", "normalized": 88.15, "type": "amount"},
                "matricula": {"value": "7310 HJT", "type": "text"},
            },
            "tables": [],
            # The plate is printed with a space: the rules file's pattern says NNNN-XXX or NNNNXXX.
            "validation": {"status": "failed", "codes": [["matricula", "pattern_mismatch"]]},
        },
    ),
    Sample(
        name="fuel-receipt-bp-2026-11-15.pdf",
        lines=[
            [
                "bp  Estacion San Sebastian de los Reyes",
                "15 nov 2026",
                "Matricula 0923LPB",
                "Ultimate Diesel 27,35 L",
                "Total 41,02 EUR",
            ]
        ],
        readings=[
            [
                Reading("fecha", "15 nov 2026", 0.92),
                Reading("matricula", "0923LPB", 0.9),
                Reading("total", "41,02 €", 0.94, printed="41,02 EUR"),
                # A second, weaker reading of the same label: kept in `others`, not lost.
                Reading("total", "41,62 €", 0.41, printed="41,02 EUR"),
            ]
        ],
        expect={
            "pages": 1,
            "fields": {
                "fecha": {"value": "15 nov 2026", "normalized": "2026-11-15", "type": "date"},
                "total": {"value": "41,02 €", "normalized": 41.02, "type": "amount", "others": 1},
                "matricula": {"value": "0923LPB", "type": "text"},
            },
            "tables": [],
            "validation": {"status": "passed", "codes": []},
        },
    ),
    Sample(
        name="fuel-receipt-galp-2026-11-19.jpg",
        lines=[
            [
                "GALP  Area de Servicio Guadalajara",
                "19/11/2026 06:12",
                "Mat. 5530-GHD",
                "Gasoleo 30,00 L",
                "TOTAL 4?,?0 EUR  (ticket borroso)",
            ]
        ],
        readings=[
            [
                Reading("fecha", "19/11/2026", 0.9),
                Reading("matricula", "5530-GHD", 0.88),
                Reading("total", "45,30 €", 0.31, printed="4?,?0 EUR"),
            ]
        ],
        expect={
            "pages": 1,
            "fields": {
                "fecha": {"value": "19/11/2026", "normalized": "2026-11-19", "type": "date"},
                "total": {"value": "45,30 €", "normalized": 45.3, "type": "amount"},
            },
            "tables": [],
            # A blurred total read with confidence 0.31, under the rule's min_confidence 0.5.
            "validation": {"status": "failed", "codes": [["total", "low_confidence"]]},
        },
    ),
    Sample(
        name="invoice-transportes-norte-2026-10.pdf",
        lines=[
            [
                "TRANSPORTES DEL NORTE S.L.  -  FACTURA FN-2026-1042",
                "Fecha de factura: 31/10/2026",
                "Cliente: Logistica Centro S.A.",
                "Portes Madrid-Bilbao   4 x 300,00 EUR",
                "(continua en la pagina 2)",
            ],
            [
                "FACTURA FN-2026-1042  -  pagina 2",
                "Base imponible   1.200,00 EUR",
                "IVA 21%            252,00 EUR",
                "TOTAL            1.452,00 EUR",
            ],
        ],
        readings=[
            [
                Reading("numero_factura", "FN-2026-1042", 0.96),
                Reading("fecha", "31/10/2026", 0.95),
                Reading("proveedor", "Transportes del Norte S.L.", 0.9),
                TableReading(
                    "lineas_detalle",
                    [{"descripcion": "Portes Madrid-Bilbao", "cantidad": "4", "importe": "1.200,00"}],
                    ["Portes Madrid-Bilbao   4 x 300,00 EUR"],
                ),
            ],
            [
                Reading("base_imponible", "1.200,00 €", 0.93, printed="1.200,00 EUR"),
                Reading("iva", "252,00 €", 0.92, printed="252,00 EUR"),
                Reading("total", "1.452,00 €", 0.97, printed="1.452,00 EUR"),
            ],
        ],
        expect={
            "pages": 2,
            "fields": {
                "numero_factura": {"value": "FN-2026-1042", "type": "text"},
                "fecha": {"value": "31/10/2026", "normalized": "2026-10-31", "type": "date", "page": 0},
                "total": {"value": "1.452,00 €", "normalized": 1452.0, "type": "amount", "page": 1},
                "base_imponible": {"value": "1.200,00 €", "normalized": 1200.0, "page": 1},
                "iva": {"value": "252,00 €", "normalized": 252.0, "page": 1},
            },
            "tables": [
                {
                    "label": "lineas_detalle",
                    "page": 0,
                    "rows": [{"descripcion": "Portes Madrid-Bilbao", "cantidad": "4", "importe": "1.200,00"}],
                }
            ],
            "validation": {"status": "passed", "codes": []},
        },
        route="invoices",
    ),
]


def invoice_samples() -> list[Sample]:
    """Supplier invoices, the second document type (route "invoices", rules/supplier-invoices.yaml).

    Their expected verdicts hold under both rules files, so the single-route replay of every sample
    (tests/integration/test_samples.py, fuel-receipt rules) and the routed one agree."""
    levante_lines = [
        {"descripcion": "Filtro gasoil MANN WK 8110", "cantidad": "6", "importe": "95,40"},
        {"descripcion": "Aceite 10W40 (bidon 20 L)", "cantidad": "2", "importe": "178,00"},
    ]
    levante_printed = [
        "Filtro gasoil MANN WK 8110   6 x 15,90    95,40",
        "Aceite 10W40 (bidon 20 L)    2 x 89,00   178,00",
    ]
    return [
        Sample(
            name="invoice-suministros-levante-2026-11.pdf",
            lines=[
                [
                    "SUMINISTROS INDUSTRIALES LEVANTE S.A.",
                    "Factura SL-2026-0877      Fecha: 12/11/2026",
                    *levante_printed,
                    "Base imponible 273,40   IVA 21% 57,41",
                    "TOTAL 330,81 EUR",
                ]
            ],
            readings=[
                [
                    Reading("proveedor", "Suministros Industriales Levante S.A.", 0.94),
                    Reading("numero_factura", "SL-2026-0877", 0.95),
                    Reading("fecha", "12/11/2026", 0.96),
                    TableReading("lineas_detalle", levante_lines, levante_printed),
                    Reading("base_imponible", "273,40", 0.9),
                    Reading("iva", "57,41", 0.9),
                    Reading("total", "330,81 EUR", 0.93),
                ]
            ],
            expect={
                "pages": 1,
                "fields": {
                    "numero_factura": {"value": "SL-2026-0877", "type": "text"},
                    "fecha": {"value": "12/11/2026", "normalized": "2026-11-12", "type": "date"},
                    "total": {"value": "330,81 EUR", "normalized": 330.81, "type": "amount"},
                    "iva": {"value": "57,41", "normalized": 57.41},
                },
                "tables": [{"label": "lineas_detalle", "page": 0, "rows": levante_lines}],
                "validation": {"status": "passed", "codes": []},
            },
            route="invoices",
        ),
        Sample(
            name="invoice-ferreteria-ebro-2026-11.jpg",
            lines=[
                [
                    "FERRETERIA EBRO S.L.",
                    "Factura FE-2026-3310",
                    "Fecha 20-11-26",
                    "Cadenas nieve x2",
                    "TOTAL 1?8,?0 EUR (mancha)",
                ]
            ],
            readings=[
                [
                    Reading("proveedor", "Ferreteria Ebro S.L.", 0.92),
                    Reading("numero_factura", "FE-2026-3310", 0.9),
                    Reading("fecha", "20-11-26", 0.91),
                    TableReading(
                        "lineas_detalle",
                        [{"descripcion": "Cadenas nieve", "cantidad": "2"}],
                        ["Cadenas nieve x2"],
                    ),
                    Reading("total", "158,90 EUR", 0.38, printed="1?8,?0 EUR"),
                ]
            ],
            expect={
                "pages": 1,
                "fields": {
                    "fecha": {"value": "20-11-26", "normalized": "2026-11-20", "type": "date"},
                    "total": {"value": "158,90 EUR", "normalized": 158.9, "type": "amount"},
                },
                "tables": [
                    {
                        "label": "lineas_detalle",
                        "page": 0,
                        "rows": [{"descripcion": "Cadenas nieve", "cantidad": "2"}],
                    }
                ],
                # A stained total read with confidence 0.38, under min_confidence 0.5 in both rules files.
                "validation": {"status": "failed", "codes": [["total", "low_confidence"]]},
            },
            route="invoices",
        ),
    ]


SAMPLE_DOCUMENTS += invoice_samples()


# ---------------------------------------------------------------- documents


def document_bytes(sample: Sample) -> bytes:
    marker = embed_prediction_marker(sample.pages)
    if sample.name.endswith(".pdf"):
        return pdf_bytes(sample.lines, marker)
    return jpeg_bytes(sample.lines[0], marker)


# ---------------------------------------------------------------- events and webhooks


def s3_notification(sample: Sample, size: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": "2026-11-24T09:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "nanonets-ingest",
                    "bucket": {"name": DEMO_INPUT_BUCKET, "arn": f"arn:aws:s3:::{DEMO_INPUT_BUCKET}"},
                    "object": {
                        "key": quote_plus(sample.key, safe="/"),
                        "size": size,
                        "sequencer": "0A1B2C3D",
                    },
                },
            }
        ]
    }


def sample_events(sample: Sample, size: int) -> dict[str, dict[str, Any]]:
    notification = s3_notification(sample, size)
    message = json.dumps(notification)
    return {
        "s3-direct.json": notification,
        "sns.json": {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": "7c3b9f1e-0000-4000-8000-000000000001",
                        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ingest-uploads",
                        "Message": message,
                    },
                }
            ]
        },
        "sqs.json": {
            "Records": [
                {
                    "messageId": "0f6d1a52-0000-4000-8000-000000000002",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:ingest-uploads",
                    "body": message,
                }
            ]
        },
        "eventbridge.json": {
            "version": "0",
            "id": "4a1d2c6e-0000-4000-8000-000000000003",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-11-24T09:00:00Z",
            "region": "eu-west-1",
            "resources": [f"arn:aws:s3:::{DEMO_INPUT_BUCKET}"],
            "detail": {
                "version": "0",
                "bucket": {"name": DEMO_INPUT_BUCKET},
                "object": {"key": sample.key, "size": size, "sequencer": "0A1B2C3D"},
                "reason": "PutObject",
            },
        },
    }


SAMPLE_FILE_ID = "5b2bd5cc-53e0-4a4a-9d3b-7f3c1d2e9a10"
WEBHOOK_SAMPLE = "invoice-transportes-norte-2026-10.pdf"  # the multi-page one


def webhook_bodies(sample: Sample) -> dict[str, dict[str, Any]]:
    """The same finished file in both shapes Nanonets sends: prediction result and moderated file."""
    metadata = json.dumps({"bucket": DEMO_INPUT_BUCKET, "key": sample.key})
    prediction = {
        "message": "Success",
        "result": [
            {
                "message": "Success",
                "input": sample.name,
                "prediction": boxes,
                "page": index,
                "request_file_id": SAMPLE_FILE_ID,
                "filepath": f"uploadedfiles/{SAMPLE_FILE_ID}/PredictionImages/{index}.jpeg",
                "id": f"{SAMPLE_FILE_ID}-page-{index}",
                "rotation": 0,
                "file_url": f"uploadedfiles/{SAMPLE_FILE_ID}/RawPredictions/{sample.name}",
                "request_metadata": metadata,
                "processing_type": "async",
            }
            for index, boxes in enumerate(sample.pages)
        ],
        "signed_urls": {},
    }
    moderated = {
        "moderated_images_count": len(sample.pages),
        "unmoderated_images_count": 0,
        "moderated_images": [
            {
                "id": f"{SAMPLE_FILE_ID}-page-{index}",
                "url": f"uploadedfiles/{SAMPLE_FILE_ID}/PredictionImages/{index}.jpeg",
                "predicted_boxes": boxes,
                "moderated_boxes": boxes,
                "is_moderated": True,
                "request_file_id": SAMPLE_FILE_ID,
                "page": index,
                "request_metadata": metadata,
                "original_file_name": sample.name,
            }
            for index, boxes in enumerate(sample.pages)
        ],
        "unmoderated_images": [],
        "signed_urls": {},
    }
    return {"prediction-result.json": prediction, "moderated-file.json": moderated}


# ---------------------------------------------------------------- writing


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> int:
    for folder in ("documents", "events", "webhooks", "expected"):
        shutil.rmtree(SAMPLES / folder, ignore_errors=True)
        (SAMPLES / folder).mkdir(parents=True)
    for sample in SAMPLE_DOCUMENTS:
        content = document_bytes(sample)
        (SAMPLES / "documents" / sample.name).write_bytes(content)
        write_json(
            SAMPLES / "expected" / f"{sample.name}.json",
            {"key": sample.key, "route": sample.route, **sample.expect},
        )
    first = SAMPLE_DOCUMENTS[0]
    size = len((SAMPLES / "documents" / first.name).read_bytes())
    for name, event in sample_events(first, size).items():
        write_json(SAMPLES / "events" / name, event)
    invoice = next(s for s in SAMPLE_DOCUMENTS if s.name == WEBHOOK_SAMPLE)
    for name, body in webhook_bodies(invoice).items():
        write_json(SAMPLES / "webhooks" / name, body)
    from scripts.live_samples import write_live_samples  # it builds on this module's samples

    write_live_samples(SAMPLES)
    print(f"wrote {len(SAMPLE_DOCUMENTS)} documents, events and webhook bodies under {SAMPLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
