"""The in-process service and Flask app wired to the real moto server and the real emulator process."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.bootstrap import Service, build
from service.settings import Settings, load_settings
from service.web import create_app


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
