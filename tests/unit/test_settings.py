"""service.settings: defaults of CONTRACT.md, one-line errors naming the variable, .env, secrets hidden."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.settings import (
    NanonetsSettings,
    Settings,
    SettingsError,
    load_nanonets_settings,
    load_settings,
)

API_KEY = "nn-api-key-5f3c9e1b7a"
SECRET = "webhook-secret-8d2e"
REQUIRED = {"NANONETS_API_KEY": API_KEY, "NANONETS_MODEL_ID": "model-1", "OUTPUT_BUCKET": "out-bucket"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No setting from the outer environment or a .env of the working copy leaks into these tests."""
    names = {name.upper() for name in Settings.model_fields}
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def load_error(monkeypatch: pytest.MonkeyPatch, **values: str) -> str:
    set_env(monkeypatch, **values)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message and "\n" not in message and "\r" not in message
    assert API_KEY not in message and SECRET not in message
    return message


# ---------------------------------------------------------------------------------------- defaults


def test_defaults_of_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED)
    settings = load_settings()
    assert settings.nanonets_api_key.get_secret_value() == API_KEY
    assert settings.nanonets_model_id == "model-1"
    assert settings.nanonets_base_url == "https://app.nanonets.com/api/v2"
    assert settings.aws_endpoint_url is None and settings.sqs_endpoint_url is None
    assert settings.input_prefix == "incoming/"
    assert settings.input_suffixes == (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
    assert settings.output_bucket == "out-bucket"
    assert settings.output_prefix == "normalized/"
    assert settings.state_bucket == "out-bucket" and settings.state_bucket_name == "out-bucket"
    assert settings.state_prefix == "_state/"
    assert settings.webhook_secret is None
    assert settings.presign_ttl_seconds == 21600
    assert settings.validation_rules is None
    assert settings.max_body_bytes == 20971520 == 20 * 1024 * 1024
    assert settings.max_document_bytes == 52428800 == 50 * 1024 * 1024
    assert settings.verify_by_fetch is False
    assert settings.auto_approve is False
    assert settings.max_pending_seconds == 86400


def test_every_setting_of_the_contract_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        **REQUIRED,
        NANONETS_BASE_URL="http://127.0.0.1:9000/api/v2/",
        AWS_ENDPOINT_URL="http://127.0.0.1:5000",
        INPUT_PREFIX="docs",
        INPUT_SUFFIXES="PDF, .Png ,tif",
        OUTPUT_PREFIX="json/",
        STATE_BUCKET="state-bucket",
        STATE_PREFIX="st",
        WEBHOOK_SECRET=SECRET,
        PRESIGN_TTL_SECONDS="600",
        VALIDATION_RULES="samples/rules/fuel-receipts.yaml",
        MAX_BODY_BYTES="1024",
        MAX_DOCUMENT_BYTES="2048",
        VERIFY_BY_FETCH="true",
        AUTO_APPROVE="1",
        MAX_PENDING_SECONDS="60",
    )
    settings = load_settings()
    assert settings.nanonets_base_url == "http://127.0.0.1:9000/api/v2"  # trailing slash dropped
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"
    assert settings.sqs_endpoint_url == "http://127.0.0.1:5000"  # SQS follows S3 unless told otherwise
    assert settings.input_prefix == "docs/"  # a prefix is a folder
    assert settings.input_suffixes == (".pdf", ".png", ".tif")
    assert settings.output_prefix == "json/"
    assert (settings.state_bucket_name, settings.state_prefix) == ("state-bucket", "st/")
    assert settings.require_webhook_secret().get_secret_value() == SECRET
    assert settings.presign_ttl_seconds == 600
    assert settings.validation_rules == "samples/rules/fuel-receipts.yaml"
    assert (settings.max_body_bytes, settings.max_document_bytes) == (1024, 2048)
    assert settings.verify_by_fetch is True and settings.auto_approve is True
    assert settings.max_pending_seconds == 60


def test_empty_input_prefix_means_the_whole_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED, INPUT_PREFIX="")
    assert load_settings().input_prefix == ""


def test_sqs_can_have_an_endpoint_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        **REQUIRED,
        AWS_ENDPOINT_URL="http://127.0.0.1:5000",
        AWS_ENDPOINT_URL_SQS="http://127.0.0.1:5001",
    )
    settings = load_settings()
    assert (settings.aws_endpoint_url, settings.sqs_endpoint_url) == (
        "http://127.0.0.1:5000",
        "http://127.0.0.1:5001",
    )


def test_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, nanonets_api_key=API_KEY, Nanonets_Model_Id="m", output_bucket="out-bucket")
    assert load_settings().nanonets_model_id == "m"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED)
    assert load_settings(output_bucket="other-bucket").output_bucket == "other-bucket"


# ------------------------------------------------------------------------------- required settings


@pytest.mark.parametrize("missing", ["NANONETS_API_KEY", "NANONETS_MODEL_ID", "OUTPUT_BUCKET"])
def test_missing_required_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    values = {k: v for k, v in REQUIRED.items() if k != missing}
    message = load_error(monkeypatch, **values)
    assert missing in message and "missing" in message


def test_nothing_set_names_a_required_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    message = load_error(monkeypatch)
    assert any(name in message for name in REQUIRED)


@pytest.mark.parametrize(
    ("name", "value"),
    [("NANONETS_API_KEY", ""), ("NANONETS_API_KEY", "   "), ("NANONETS_MODEL_ID", ""), ("OUTPUT_BUCKET", "")],
)
def test_blank_required_setting_names_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    message = load_error(monkeypatch, **{**REQUIRED, name: value})
    assert name in message


def test_webhook_secret_required_outside_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED)
    settings = load_settings()
    with pytest.raises(SettingsError) as caught:
        settings.require_webhook_secret()
    assert "WEBHOOK_SECRET" in str(caught.value) and "\n" not in str(caught.value)


# ------------------------------------------------------------------------------ malformed settings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BODY_BYTES", "20MB"),
        ("MAX_BODY_BYTES", "abc"),
        ("MAX_BODY_BYTES", "0"),
        ("MAX_BODY_BYTES", "1.5"),
        ("MAX_DOCUMENT_BYTES", "-1"),
        ("MAX_DOCUMENT_BYTES", "1\n2"),
        ("PRESIGN_TTL_SECONDS", "6h"),
        ("PRESIGN_TTL_SECONDS", "0"),
        ("MAX_PENDING_SECONDS", "one day"),
        ("NANONETS_READ_TIMEOUT", "fast"),
        ("NANONETS_MAX_RETRIES", "100"),
        ("VERIFY_BY_FETCH", "maybe"),
        ("AUTO_APPROVE", "yes please"),
        ("INPUT_SUFFIXES", ""),
        ("INPUT_SUFFIXES", " , "),
        ("INPUT_PREFIX", "/incoming/"),
        ("OUTPUT_PREFIX", "/normalized/"),
        ("NANONETS_BASE_URL", "ftp://example.com"),
        ("NANONETS_BASE_URL", "app.nanonets.com/api/v2"),
        ("WEBHOOK_SECRET", "short"),
        ("OUTPUT_BUCKET", "x"),
    ],
)
def test_malformed_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    message = load_error(monkeypatch, **{**REQUIRED, name: value})
    assert name in message and "invalid" in message


def test_error_of_a_too_short_secret_does_not_show_it(monkeypatch: pytest.MonkeyPatch) -> None:
    message = load_error(monkeypatch, **{**REQUIRED, "WEBHOOK_SECRET": "s3cr3t!"})
    assert "WEBHOOK_SECRET" in message and "s3cr3t!" not in message


def test_settings_error_is_raised_without_the_validation_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED, MAX_BODY_BYTES="x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --------------------------------------------------------------------------------------------- .env


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"NANONETS_API_KEY={API_KEY}\nNANONETS_MODEL_ID=from-dotenv\nOUTPUT_BUCKET=dotenv-bucket\n"
        "MAX_BODY_BYTES=4096   # inline comment\nINPUT_SUFFIXES=.pdf,.png\n# a comment line\n\nUNRELATED=1\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.nanonets_model_id == "from-dotenv"
    assert settings.output_bucket == "dotenv-bucket"
    assert settings.max_body_bytes == 4096
    assert settings.input_suffixes == (".pdf", ".png")
    assert settings.nanonets_api_key.get_secret_value() == API_KEY


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"NANONETS_API_KEY={API_KEY}\nNANONETS_MODEL_ID=from-dotenv\nOUTPUT_BUCKET=dotenv-bucket\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NANONETS_MODEL_ID", "from-env")
    settings = load_settings()
    assert (settings.nanonets_model_id, settings.output_bucket) == ("from-env", "dotenv-bucket")


def test_malformed_value_in_dotenv_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"NANONETS_API_KEY={API_KEY}\nNANONETS_MODEL_ID=m\nOUTPUT_BUCKET=out-bucket\n"
        "PRESIGN_TTL_SECONDS=soon\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "PRESIGN_TTL_SECONDS" in message and "\n" not in message and API_KEY not in message


def test_dotenv_missing_a_required_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"NANONETS_API_KEY={API_KEY}\nOUTPUT_BUCKET=out-bucket\n", encoding="utf-8"
    )
    with pytest.raises(SettingsError, match="NANONETS_MODEL_ID"):
        load_settings()


def test_a_dotenv_elsewhere_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".env").write_text(
        f"NANONETS_API_KEY={API_KEY}\nNANONETS_MODEL_ID=m\nOUTPUT_BUCKET=out-bucket\n", encoding="utf-8"
    )
    with pytest.raises(SettingsError):
        load_settings()


# ------------------------------------------------------------------------------------------ secrets


def test_secrets_never_show_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **REQUIRED, WEBHOOK_SECRET=SECRET)
    settings = load_settings()
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert API_KEY not in text and SECRET not in text
    assert API_KEY not in repr(settings.nanonets_api_key) and SECRET not in str(settings.webhook_secret)


def test_api_key_never_in_any_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in [("MAX_BODY_BYTES", API_KEY), ("NANONETS_BASE_URL", API_KEY), ("OUTPUT_BUCKET", "")]:
        message = load_error(monkeypatch, **{**REQUIRED, name: value})
        assert API_KEY not in message


# ------------------------------------------------------------------------------ Nanonets-only view


def test_nanonets_settings_need_only_the_api_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, NANONETS_API_KEY=API_KEY, NANONETS_MODEL_ID="m")
    settings = load_nanonets_settings()
    assert isinstance(settings, NanonetsSettings) and not isinstance(settings, Settings)
    assert settings.nanonets_base_url == "https://app.nanonets.com/api/v2"
    assert API_KEY not in repr(settings)
    with pytest.raises(SettingsError, match="OUTPUT_BUCKET"):
        load_settings()


def test_nanonets_settings_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, NANONETS_MODEL_ID="m")
    with pytest.raises(SettingsError) as caught:
        load_nanonets_settings()
    assert str(caught.value) == "missing required setting NANONETS_API_KEY"
