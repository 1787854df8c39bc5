"""Live Nanonets, end to end under gunicorn (issue 11): every webhook shape live accounts send writes one
correct output, a person's correction in Nanonets reaches the output with the model's reading beside it,
and reconcile recovers a lost webhook from a server that only answers today's GetPredictions path."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from devtools.emulator.config import SHAPES
from devtools.stack import REPO
from service.bootstrap import build
from service.settings import load_settings
from tests.e2e.conftest import Stack
from tests.e2e.test_webhook_flow import drop, output, outputs
from tests.support import wait_for

pytestmark = pytest.mark.e2e
SCHEMA_1_1 = json.loads((REPO / "schemas" / "normalized-document-v1.1.json").read_text())


@pytest.mark.parametrize("shape", SHAPES)
def test_every_live_webhook_shape_writes_one_correct_output(stack: Stack, shape: str) -> None:
    stack.emulator.config(webhook_shape=shape, score_scale="live")
    submitted = drop(stack, f"incoming/live/{shape}.pdf")["submitted"]
    document = output(stack, f"normalized/live/{shape}.pdf.json")

    jsonschema.validate(document, SCHEMA_1_1)
    assert document["nanonets"]["request_file_id"] == submitted[0]["request_file_id"]
    assert (document["schema_version"], document["schema_minor"]) == (1, 1)
    total = document["fields"]["total"]
    assert (total["value"], total["normalized"]) == ("45,99 €", 45.99)
    assert document["validation"]["status"] == "passed"  # live 0-100 and "not scored" cells trip nothing
    assert all(0 <= f["confidence"] <= 1 for f in document["fields"].values() if f["confidence"] is not None)
    assert document["tables"][0]["rows"] == [{"descripcion": "Gasoil", "cantidad": "50L"}]
    assert document["pages_info"][0]["width"] > 0 and document["pages_info"][0]["height"] > 0
    assert outputs(stack) == [f"normalized/live/{shape}.pdf.json"]


def test_a_correction_made_in_nanonets_wins_and_keeps_the_models_reading(stack: Stack) -> None:
    stack.emulator.config(webhook_shape="export")
    file_id = drop(stack, "incoming/live/corrected.pdf")["submitted"][0]["request_file_id"]
    first = output(stack, "normalized/live/corrected.pdf.json")
    assert first["review"] == "pending"

    stack.emulator.review(file_id, {"total": "54,99 €"}, approve=True)

    def corrected() -> dict[str, Any] | None:
        document = output(stack, "normalized/live/corrected.pdf.json")
        return document if document["review"] == "approved" else None

    document = wait_for(corrected, timeout=20)
    total = document["fields"]["total"]
    assert (total["value"], total["normalized"]) == ("54,99 €", 54.99)
    assert (total["predicted"], total["source"]) == ("45,99 €", "nanonets_review")
    assert document["fields"]["fecha"]["source"] == "model"  # untouched fields say so too


def test_reconcile_recovers_a_lost_webhook_from_a_server_with_only_todays_paths(
    stack: Stack, base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    stack.emulator.config(webhooks_enabled=False, new_retrieval_paths=False, guide_paths=False)
    drop(stack, "incoming/live/lost.pdf")
    assert stack.emulator.flush()
    assert outputs(stack) == []

    monkeypatch.chdir(tmp_path)
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)
    service = build(load_settings())
    first = service.recovery.reconcile(older_than_seconds=0, limit=10)
    assert (first.completed, first.errors) == (1, 0)
    assert outputs(stack) == ["normalized/live/lost.pdf.json"]
    fetches = [c["path"] for c in stack.emulator.calls() if c["method"] == "GET"]
    assert fetches and all("GetPredictions" in path for path in fetches)
