"""`EmulatorControl`: the emulator's control API for tests, the demo, the bench and the soak."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests


class EmulatorControl:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout

    def _post(self, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        response = requests.post(
            f"{self.base_url}/_emulator{path}", json=body or {}, timeout=timeout or self._timeout
        )
        response.raise_for_status()
        return response.json()

    def _get(self, path: str) -> Any:
        response = requests.get(f"{self.base_url}/_emulator{path}", timeout=self._timeout)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("/reset")

    def config(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/config", changes)
        return result

    def faults(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/faults", changes)
        return result

    def calls(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/calls")
        return result

    def files(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/files")
        return result

    def reject(self, file_id: str) -> None:
        self._post(f"/files/{file_id}/reject")

    def review(
        self, file_id: str, fields: Mapping[str, str] | None = None, *, approve: bool = True
    ) -> dict[str, Any]:
        """A person corrects `fields` (label -> text) in Nanonets and, with `approve`, approves the file:
        `moderated_boxes` carry the corrections and the On-Approval webhook goes out. The file's summary."""
        result: dict[str, Any] = self._post(
            f"/files/{file_id}/review", {"fields": dict(fields or {}), "approve": approve}
        )
        return result

    def resend_webhook(self, file_id: str) -> None:
        self._post(f"/files/{file_id}/webhook")

    def flush(self, timeout: float = 30.0) -> bool:
        return bool(self._post("/flush", {"timeout": timeout}, timeout=timeout + 5)["idle"])
