"""The in-process service and Flask app wired to the real moto server and the real emulator process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devtools.emulator.control import EmulatorControl
from service.bootstrap import Service, build
from service.settings import Settings, load_settings
from service.web import create_app
from tests.integration.emulator_api import LocalHost


@pytest.fixture()
def make_settings(base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's tree
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)

    def make(**overrides: Any) -> Settings:
        return load_settings(**overrides)

    return make


@pytest.fixture()
def settings(make_settings: Any) -> Settings:
    settings: Settings = make_settings()
    return settings


@pytest.fixture()
def service(settings: Settings) -> Service:
    return build(settings)


@pytest.fixture()
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def host(emulator_url: str) -> Iterator[LocalHost]:
    """Serves documents to the emulator and receives its webhooks (none configured: see `webhooks`)."""
    local = LocalHost()
    yield local
    EmulatorControl(emulator_url).flush(timeout=15)  # nothing may still be delivering to it when it goes away
    local.stop()


@pytest.fixture()
def webhooks(emulator_url: str, host: LocalHost) -> LocalHost:
    """`host`, with the emulator's webhooks pointed at it."""
    EmulatorControl(emulator_url).config(webhook_url=host.url + "/hook", webhook_retry_delay=0.05)
    return host


@pytest.fixture()
def seed_shapes(emulator_url: str) -> None:
    """The seeds' webhook shape and 0-1 scores, whatever the stack starts the emulator with
    (devtools.stack.SERVICE_COMPAT): for tests of the emulator's and the client's mechanics, not of shapes."""
    EmulatorControl(emulator_url).config(webhook_shape="prediction", score_scale="unit")
