"""The normalized output document, version 1.1 (docs/OUTPUT.md). Its JSON Schema is exported from here.

1.1 is additive to 1: `schema_version` stays 1 (consumers that check it keep working) and `schema_minor`
says 1. New: `schema_minor`, `pages_info` (page sizes), and per field `predicted` and `source` (what a
person changed). Every 1.0 document is a valid 1.1 document.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from service.models.source import SourceRef as SourceRef  # the document names its source

SCHEMA_VERSION: Literal[1] = 1
SCHEMA_MINOR = 1
SCHEMA_BASE_URL = "https://nanonets-ingest.example/schemas"

FieldType = Literal["date", "amount", "quantity", "number", "text"]
IssueCode = Literal["missing", "low_confidence", "bad_format", "pattern_mismatch"]
Review = Literal["pending", "approved", "rejected", "auto_approved"]
ValueSource = Literal["model", "nanonets_review", "console"]
Normalized = str | float | None


_ModelT = TypeVar("_ModelT", bound=BaseModel)


class _Strict(BaseModel):
    # defer_build: validators are built on first use, not at import. Entry points that never handle a
    # document (a Lambda answering S3 events or GET /healthz) import this module for its types alone.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class NanonetsRef(_Strict):
    model_id: str
    request_file_id: str
    request_metadata: dict[str, Any] | None = None


class FieldCandidate(_Strict):
    """Another prediction of the same label, kept so nothing is lost."""

    value: str
    normalized: Normalized = None
    confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="0-1; null when Nanonets did not score the value"
    )
    page: int | None = None
    bbox: list[float] | None = Field(default=None, min_length=4, max_length=4)


class DocumentField(FieldCandidate):
    type: FieldType = "text"
    others: list[FieldCandidate] = Field(default_factory=list)
    predicted: str | None = Field(
        default=None,
        description="1.1: the model's value (its ocr_text) where `value` differs from it; null when the "
        "value is the model's, or the model predicted nothing for this label",
    )
    source: ValueSource = Field(
        default="model",
        description="1.1: who set `value`: `model` (the prediction, confirmed or not), `nanonets_review` "
        "(a person's correction in Nanonets), `console` (a correction in our review console)",
    )


class Table(_Strict):
    label: str
    page: int | None = None
    rows: list[dict[str, str | None]] = Field(default_factory=list)


class PageInfo(_Strict):
    """1.1: one page, with the size (pixels) of the page image its boxes' coordinates refer to."""

    page: int = Field(ge=0)
    width: float | None = Field(default=None, gt=0)
    height: float | None = Field(default=None, gt=0)


class ValidationIssue(_Strict):
    field: str
    code: IssueCode
    message: str


class Validation(_Strict):
    status: Literal["passed", "failed"] = "passed"
    issues: list[ValidationIssue] = Field(default_factory=list)


class NormalizedDocument(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    schema_minor: int = Field(
        default=SCHEMA_MINOR, ge=0, description="1.1: the minor version (absent in 1.0 documents)"
    )
    source: SourceRef
    nanonets: NanonetsRef
    pages: int = Field(ge=0)
    pages_info: list[PageInfo] = Field(
        default_factory=list, description="1.1: every page, in page order, with its size when known"
    )
    fields: dict[str, DocumentField] = Field(default_factory=dict)
    tables: list[Table] = Field(default_factory=list)
    validation: Validation = Field(default_factory=Validation)
    review: Review = "pending"
    processed_at: str = Field(description="UTC time of processing, ISO 8601 with Z")

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8")


def document_json_schema(name: str = f"normalized-document-v1.{SCHEMA_MINOR}.json") -> dict[str, Any]:
    schema = NormalizedDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"{SCHEMA_BASE_URL}/{name}"
    return schema


def document_json_schema_text(name: str = f"normalized-document-v1.{SCHEMA_MINOR}.json") -> str:
    return json.dumps(document_json_schema(name), indent=2, sort_keys=True) + "\n"


_set_slot = object.__setattr__


def trusted(model: type[_ModelT], values: dict[str, Any]) -> _ModelT:
    """An instance of `model` holding `values` as they are: what `model_construct` makes, without its
    per-field Python loop (it costs more than validating). `values` must name every field, in the model's
    order (the JSON follows it), each of its declared type and within its constraints: only for values
    the caller made itself, typed as the model declares them (service.core.normalize says why each is).

    Every field is set, so the instance's fields-set is the model's whole field set, one set shared by
    every trusted instance of the model (216 bytes saved per instance: a thousand-page document makes
    thousands). Sharing is safe: pydantic only adds to it a name it holds already (assignment), and copies
    it before changing it (`model_copy`)."""
    instance = model.__new__(model)
    _set_slot(instance, "__dict__", values)
    _set_slot(instance, "__pydantic_fields_set__", _every_field(model))
    _set_slot(instance, "__pydantic_extra__", None)
    _set_slot(instance, "__pydantic_private__", None)
    return instance


@functools.cache
def _every_field(model: type[BaseModel]) -> set[str]:
    return set(model.__pydantic_fields__)
