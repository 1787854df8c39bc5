"""What the emulator is told at start-up and through `POST /_emulator/config` (docs/EMULATOR.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# Webhook bodies as live accounts send them (NANONETS_LIVE.md): the per-document export (`result` an object),
# the seeds' prediction list, its older nested form, the retrieval shape, a bare array of page objects.
SHAPES = ("export", "prediction", "prediction_nested", "retrieval", "bare_array")
# "live": fields 0-1, table cells 0-100 and tables 0 ("not scored"), as live traffic; "unit": everything 0-1.
SCORE_SCALES = ("live", "unit")


@dataclass
class EmulatorConfig:
    api_keys: list[str] = field(default_factory=lambda: ["emulator-key"])
    model_ids: list[str] = field(default_factory=lambda: ["emulator-model"])
    webhook_url: str | None = None
    webhooks_enabled: bool = True
    webhook_shape: str = "export"  # one of SHAPES, or "mixed" (each webhook the next shape in turn)
    score_scale: str = "live"
    processing_delay: float = 0.05
    webhook_retries: int = 5
    webhook_retry_delay: float = 0.2
    quota: int | None = None  # predict calls left before 402 (the guide's free calls); None = unlimited
    credit_pages: int | None = None  # pages left before 402 until topped up; None = unlimited
    pages_per_minute: int | None = None  # per model, on the predict endpoints; None = no limit
    time_scale: float = 1.0  # length of the limit's "minute" in minutes (0.05: a 3 s minute, for benches)
    live_paths: bool = True  # GetPredictions, Inferences/.../ImageLevelInferences, Verify, RetryPrediction
    new_retrieval_paths: bool = True  # the OpenAPI seed's Inferences/Model/{m}/InferenceRequest/... paths
    guide_paths: bool = (
        True  # the guide's OCR/Model/{m}/getFile, ImageLevelInferences, getModelImages, ApproveFile
    )


def config_names() -> set[str]:
    return {f.name for f in fields(EmulatorConfig)}


def config_problem(changes: dict[str, Any]) -> str | None:
    """Why these config changes cannot be applied, or None."""
    unknown = set(changes) - config_names()
    if unknown:
        return f"unknown config keys: {', '.join(sorted(unknown))}"
    shape = changes.get("webhook_shape")
    if shape is not None and shape not in (*SHAPES, "mixed"):
        return f"webhook_shape must be one of {', '.join((*SHAPES, 'mixed'))}"
    scale = changes.get("score_scale")
    if scale is not None and scale not in SCORE_SCALES:
        return f"score_scale must be one of {', '.join(SCORE_SCALES)}"
    if "time_scale" in changes and not (
        isinstance(changes["time_scale"], int | float) and changes["time_scale"] > 0
    ):
        return "time_scale must be a positive number"
    return None
