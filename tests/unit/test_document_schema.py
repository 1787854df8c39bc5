"""The JSON Schemas shipped in schemas/ are the ones the model exports; 1.1 only adds to 1.0."""

from __future__ import annotations

import json

import jsonschema
import pytest

from devtools.stack import REPO
from service.models.document import document_json_schema, document_json_schema_text

SCHEMAS = REPO / "schemas"
SHIPPED = SCHEMAS / "normalized-document-v1.json"
V1_0 = json.loads((SCHEMAS / "normalized-document-v1.0.json").read_text(encoding="utf-8"))
V1_1 = json.loads((SCHEMAS / "normalized-document-v1.1.json").read_text(encoding="utf-8"))

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


# The same document in 1.1: what a person changed, and the page sizes.
EXAMPLE_1_1 = {
    **json.loads(json.dumps(CONTRACT_EXAMPLE)),
    "schema_minor": 1,
    "pages_info": [{"page": 0, "width": 2550, "height": 3300}],
}
EXAMPLE_1_1["fields"]["total"].update(
    {"value": "45,90 €", "predicted": "45,30 €", "source": "nanonets_review"}
)
EXAMPLE_1_1["fields"]["fecha"].update({"predicted": None, "source": "model"})


@pytest.mark.parametrize("name", ["normalized-document-v1.1.json", "normalized-document-v1.json"])
def test_shipped_schemas_are_the_exported_ones(name: str) -> None:
    assert (SCHEMAS / name).read_text(encoding="utf-8") == document_json_schema_text(name), (
        "run `python -m scripts.export_schema` after changing service/models/document.py"
    )


def test_v1_is_the_newest_1_x_under_the_major_name() -> None:
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert shipped["$id"].endswith("/normalized-document-v1.json")
    assert {**shipped, "$id": V1_1["$id"]} == V1_1


def test_contract_example_is_valid() -> None:
    jsonschema.validate(CONTRACT_EXAMPLE, document_json_schema())


@pytest.mark.parametrize("schema", [V1_0, V1_1], ids=["1.0", "1.1"])
def test_a_1_0_document_is_valid_under_both(schema: dict[str, object]) -> None:
    jsonschema.Draft202012Validator(schema).validate(CONTRACT_EXAMPLE)


def test_the_1_1_example_is_valid_and_carries_its_minor() -> None:
    jsonschema.Draft202012Validator(V1_1).validate(EXAMPLE_1_1)
    assert EXAMPLE_1_1["schema_version"] == 1  # consumers checking `schema_version == 1` keep working


def _objects(schema: dict[str, object]) -> dict[str, dict[str, object]]:
    """Every object schema by name: the document itself and its $defs."""
    defs = schema.get("$defs", {})
    assert isinstance(defs, dict)
    return {"NormalizedDocument": schema, **defs}


def _without_description(spec: object) -> dict[str, object]:
    assert isinstance(spec, dict)
    return {key: value for key, value in spec.items() if key != "description"}


def test_1_1_only_adds_optional_properties_to_1_0() -> None:
    old, new = _objects(V1_0), _objects(V1_1)
    assert set(old) <= set(new)
    for name, before in old.items():
        after = new[name]
        old_props, new_props = before.get("properties", {}), after.get("properties", {})
        assert isinstance(old_props, dict) and isinstance(new_props, dict)
        assert set(old_props) <= set(new_props), name
        assert after.get("required", []) == before.get("required", []), name
        for prop, spec in old_props.items():
            same, was = _without_description(new_props[prop]), _without_description(spec)
            if prop == "confidence":  # now documented as 0-1, which every 1.0 document was (1.0 refused > 1)
                same["anyOf"] = [{"type": "number"}, {"type": "null"}]
            assert same == was, (name, prop)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("schema_version",), 2),
        (("review",), "maybe"),
        (("validation", "status"), "ok"),
        (("fields", "fecha", "type"), "datetime"),
        (("fields", "fecha", "bbox"), [1, 2, 3]),
        (("fields", "fecha", "confidence"), 1.5),
        (("fields", "fecha", "source"), "robot"),
        (("schema_minor",), -1),
        (("pages_info",), [{"page": 0, "width": 0, "height": 10}]),
        (("pages_info",), [{"width": 10, "height": 10}]),
    ],
)
def test_schema_rejects_wrong_values(path: tuple[str, ...], bad: object) -> None:
    document = json.loads(json.dumps(EXAMPLE_1_1))
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, document_json_schema())
