"""What the emulator is told at start-up and through `POST /_emulator/config` (docs/EMULATOR.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class EmulatorConfig:
    api_keys: list[str] = field(default_factory=lambda: ["emulator-key"])
    model_ids: list[str] = field(default_factory=lambda: ["emulator-model"])
    webhook_url: str | None = None
    webhooks_enabled: bool = True
    webhook_shape: str = "prediction"
    processing_delay: float = 0.05
    webhook_retries: int = 5
    webhook_retry_delay: float = 0.2
    quota: int | None = None
    new_retrieval_paths: bool = True


def config_names() -> set[str]:
    return {f.name for f in fields(EmulatorConfig)}
