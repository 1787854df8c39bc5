"""The JSON Schema shipped in schemas/ is the one the model exports, and it accepts the contract's example."""

from __future__ import annotations

import json

import jsonschema
import pytest

from devtools.stack import REPO
from service.models.document import document_json_schema, document_json_schema_text

SHIPPED = REPO / "schemas" / "normalized-document-v1.json"

CONTRACT_EXAMPLE = {
    "schema_version": 1,
    "source": {"bucket": "in", "key": "incoming/fleet/recibo 1.pdf", "etag": "abc", "version_id": None},
    "nanonets": {"model_id": "m", "request_file_id": "f", "request_metadata": {"conductor_id": "123"}},
    "pages": 1,
    "fields": {
        "fecha": {
            "value": "23/12/2025",
            "normalized": "2025-12-23",
            "type": "date",
            "confidence": 0.95,
            "page": 0,
            "bbox": [100, 200, 250, 230],
            "others": [],
        },
        "total": {
            "value": "45,99 €",
            "normalized": 45.99,
            "type": "amount",
            "confidence": 0.92,
            "page": 0,
            "bbox": [300, 400, 400, 430],
            "others": [],
        },
    },
    "tables": [
        {"label": "lineas_detalle", "page": 0, "rows": [{"descripcion": "Gasoil", "cantidad": "50L"}]}
    ],
    "validation": {"status": "passed", "issues": []},
    "review": "pending",
    "processed_at": "2026-01-01T00:00:00Z",
}


def test_shipped_schema_is_the_exported_one() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == document_json_schema_text(), (
        "run `python -m scripts.export_schema` after changing service/models/document.py"
    )


def test_contract_example_is_valid() -> None:
    jsonschema.validate(CONTRACT_EXAMPLE, document_json_schema())


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("schema_version",), 2),
        (("review",), "maybe"),
        (("validation", "status"), "ok"),
        (("fields", "fecha", "type"), "datetime"),
        (("fields", "fecha", "bbox"), [1, 2, 3]),
    ],
)
def test_schema_rejects_wrong_values(path: tuple[str, ...], bad: object) -> None:
    document = json.loads(json.dumps(CONTRACT_EXAMPLE))
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, document_json_schema())
