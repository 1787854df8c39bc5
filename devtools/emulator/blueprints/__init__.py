"""The emulator's blueprints: `gate` (auth, faults, call log, error answers, app-wide), the Nanonets API
split by area (`predict`, `retrieve`, `files`, `training`, all under /api/v2) and `control` (/_emulator)."""

from __future__ import annotations

API = "/api/v2"
