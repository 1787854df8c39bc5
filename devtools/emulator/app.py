"""The emulator's app factory: the Nanonets API of both seeds under /api/v2 and a control API under
/_emulator, as blueprints; all state in one `EmulatorState` the factory builds (no module-level state)."""

from __future__ import annotations

from flask import Flask

from devtools.emulator.blueprints.control import control_api
from devtools.emulator.blueprints.files import files_api
from devtools.emulator.blueprints.gate import gate
from devtools.emulator.blueprints.predict import predict_api
from devtools.emulator.blueprints.retrieve import retrieve_api
from devtools.emulator.blueprints.training import training_api
from devtools.emulator.config import EmulatorConfig
from devtools.emulator.state import EXTENSION, EmulatorState

__all__ = ["EmulatorConfig", "create_emulator_app"]


def create_emulator_app(config: EmulatorConfig | None = None) -> Flask:
    app = Flask("nanonets-emulator")
    app.extensions[EXTENSION] = EmulatorState(config or EmulatorConfig())
    for blueprint in (gate, predict_api, retrieve_api, files_api, training_api, control_api):
        app.register_blueprint(blueprint)
    return app
