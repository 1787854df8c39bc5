"""Settings added in 1.1 for routes, events and analytics: defaults, shapes, one-line errors."""

from __future__ import annotations

import base64

import pytest

from service.settings import load_settings
from tests.unit.test_settings import REQUIRED, clean_env, load_error, set_env

__all__ = ["clean_env"]  # the autouse fixture that keeps the outer environment out

SIGNING_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def test_defaults_of_the_1_1_additions(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED)
    settings = load_settings()
    assert settings.nanonets_pages_per_minute == 150
    assert settings.routes_file is None
    assert settings.events_target is None and settings.events_signing_secret is None
    assert settings.events_max_attempts == 20
    assert settings.analytics_prefix == "analytics/"


@pytest.mark.parametrize(
    "target",
    [
        "eventbridge:default",
        "eventbridge:nanonets-ingest-events",
        "eventbridge:arn:aws:events:eu-west-1:123456789012:event-bus/ingest",
        "sns:arn:aws:sns:eu-west-1:123456789012:documents",
        "sns:arn:aws:sns:eu-west-1:123456789012:documents.fifo",
        "https://erp.example.com/hooks/documents?source=ingest",
        "http://127.0.0.1:8081/events",
        "http://localhost/events",
    ],
)
def test_events_target_shapes_are_accepted(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    set_env(monkeypatch, **REQUIRED, EVENTS_TARGET=target, EVENTS_SIGNING_SECRET=SIGNING_SECRET)
    assert load_settings().events_target == target


@pytest.mark.parametrize(
    "target",
    [
        "ingest-bus",
        "eventbridge:",
        "sns:documents",
        "sqs:arn:aws:sqs:eu-west-1:123456789012:q",
        "http://erp.example.com/hooks",  # plain http only to the loopback (tests, demo)
        "https://",
    ],
)
def test_malformed_events_target_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    message = load_error(monkeypatch, **REQUIRED, EVENTS_TARGET=target, EVENTS_SIGNING_SECRET=SIGNING_SECRET)
    assert "EVENTS_TARGET" in message and "invalid" in message


def test_blank_events_target_means_no_events(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED, EVENTS_TARGET="  ", ROUTES_FILE="")
    settings = load_settings()
    assert settings.events_target is None and settings.routes_file is None


def test_url_target_without_signing_secret_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    message = load_error(monkeypatch, **REQUIRED, EVENTS_TARGET="https://erp.example.com/hooks")
    assert "EVENTS_SIGNING_SECRET" in message and "required" in message


@pytest.mark.parametrize(
    "secret",
    [
        "not-a-whsec-secret-at-all-0123456789",
        base64.b64encode(bytes(32)).decode(),  # no whsec_ prefix
        "whsec_" + base64.b64encode(bytes(16)).decode(),  # under the spec's 24 bytes
        "whsec_***not base64***",
    ],
)
def test_malformed_signing_secret_is_named_but_not_shown(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    message = load_error(
        monkeypatch, **REQUIRED, EVENTS_TARGET="https://erp.example.com/x", EVENTS_SIGNING_SECRET=secret
    )
    assert "EVENTS_SIGNING_SECRET" in message and secret not in message


def test_signing_secret_is_hidden_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        **REQUIRED,
        EVENTS_TARGET="https://erp.example.com/x",
        EVENTS_SIGNING_SECRET=SIGNING_SECRET,
    )
    settings = load_settings()
    assert SIGNING_SECRET not in repr(settings)
    assert settings.events_signing_secret is not None
    assert settings.events_signing_secret.get_secret_value() == SIGNING_SECRET


@pytest.mark.parametrize(("name", "value"), [("NANONETS_PAGES_PER_MINUTE", "0"), ("ANALYTICS_PREFIX", "/a/")])
def test_malformed_1_1_setting_names_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    message = load_error(monkeypatch, **{**REQUIRED, name: value})
    assert name in message


def test_every_1_1_setting_is_documented_in_env_example() -> None:
    from devtools.stack import REPO

    example = (REPO / ".env.example").read_text()
    for name in (
        "NANONETS_PAGES_PER_MINUTE",
        "ROUTES_FILE",
        "EVENTS_TARGET",
        "EVENTS_SIGNING_SECRET",
        "EVENTS_MAX_ATTEMPTS",
        "ANALYTICS_PREFIX",
    ):
        assert f"{name}=" in example, name
