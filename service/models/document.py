"""The normalized output document, version 1 (CONTRACT.md). Its JSON Schema is exported from here."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.models.source import SourceRef as SourceRef  # the document names its source

SCHEMA_VERSION: Literal[1] = 1

FieldType = Literal["date", "amount", "quantity", "number", "text"]
IssueCode = Literal["missing", "low_confidence", "bad_format", "pattern_mismatch"]
Review = Literal["pending", "approved", "rejected", "auto_approved"]
Normalized = str | float | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NanonetsRef(_Strict):
    model_id: str
    request_file_id: str
    request_metadata: dict[str, Any] | None = None


class FieldCandidate(_Strict):
    """Another prediction of the same label, kept so nothing is lost."""

    value: str
    normalized: Normalized = None
    confidence: float | None = None
    page: int | None = None
    bbox: list[float] | None = Field(default=None, min_length=4, max_length=4)


class DocumentField(FieldCandidate):
    type: FieldType = "text"
    others: list[FieldCandidate] = Field(default_factory=list)


class Table(_Strict):
    label: str
    page: int | None = None
    rows: list[dict[str, str | None]] = Field(default_factory=list)


class ValidationIssue(_Strict):
    field: str
    code: IssueCode
    message: str


class Validation(_Strict):
    status: Literal["passed", "failed"] = "passed"
    issues: list[ValidationIssue] = Field(default_factory=list)


class NormalizedDocument(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    source: SourceRef
    nanonets: NanonetsRef
    pages: int = Field(ge=0)
    fields: dict[str, DocumentField] = Field(default_factory=dict)
    tables: list[Table] = Field(default_factory=list)
    validation: Validation = Field(default_factory=Validation)
    review: Review = "pending"
    processed_at: str = Field(description="UTC time of processing, ISO 8601 with Z")

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8")


def document_json_schema() -> dict[str, Any]:
    schema = NormalizedDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://nanonets-ingest.example/schemas/normalized-document-v1.json"
    return schema


def document_json_schema_text() -> str:
    return json.dumps(document_json_schema(), indent=2, sort_keys=True) + "\n"
