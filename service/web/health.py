"""`GET /healthz` and the OpenAPI document."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@health.get("/openapi.json")
def openapi() -> Response:
    return Response(_openapi_text(), mimetype="application/json")


def _openapi_text() -> str:
    return resources.files("service").joinpath("openapi.json").read_text(encoding="utf-8")


def openapi_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_openapi_text())
    return document
