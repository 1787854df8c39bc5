"""Lambda reads its secrets from SSM Parameter Store (moto server over HTTP), never from the template."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from devtools.stack import EMULATOR_KEY, TEST_SECRET
from service.adapters.ssm import SecretsUnavailable, resolve_ssm_secrets


@pytest.fixture()
def ssm(s3_url: str) -> Any:
    client = boto3.client("ssm", endpoint_url=s3_url, region_name="us-east-1")
    client.put_parameter(Name="/ni/test/api-key", Value=EMULATOR_KEY, Type="SecureString", Overwrite=True)
    client.put_parameter(Name="/ni/test/webhook", Value=TEST_SECRET, Type="SecureString", Overwrite=True)
    return client


def test_both_secrets_are_filled_from_their_parameters(ssm: Any) -> None:
    environ = {
        "NANONETS_API_KEY_SSM_PARAMETER": "/ni/test/api-key",
        "WEBHOOK_SECRET_SSM_PARAMETER": "/ni/test/webhook",
    }
    filled = resolve_ssm_secrets(environ, ssm)
    assert filled == ["NANONETS_API_KEY", "WEBHOOK_SECRET"]
    assert (environ["NANONETS_API_KEY"], environ["WEBHOOK_SECRET"]) == (EMULATOR_KEY, TEST_SECRET)


def test_a_value_already_in_the_environment_wins(ssm: Any) -> None:
    environ = {"NANONETS_API_KEY_SSM_PARAMETER": "/ni/test/api-key", "NANONETS_API_KEY": "from-env"}
    assert resolve_ssm_secrets(environ, ssm) == []
    assert environ["NANONETS_API_KEY"] == "from-env"


def test_a_missing_parameter_is_named(ssm: Any) -> None:
    environ = {"NANONETS_API_KEY_SSM_PARAMETER": "/ni/test/nope"}
    with pytest.raises(SecretsUnavailable, match="/ni/test/nope"):
        resolve_ssm_secrets(environ, ssm)
    assert "NANONETS_API_KEY" not in environ


def test_lambda_handler_starts_from_ssm_parameters_alone(
    make_settings: Any, ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import aws_lambda

    make_settings()
    monkeypatch.delenv("NANONETS_API_KEY")
    monkeypatch.delenv("WEBHOOK_SECRET")
    monkeypatch.setenv("NANONETS_API_KEY_SSM_PARAMETER", "/ni/test/api-key")
    monkeypatch.setenv("WEBHOOK_SECRET_SSM_PARAMETER", "/ni/test/webhook")
    aws_lambda._service.cache_clear()
    try:
        result = aws_lambda.reconcile_handler({"older_than_seconds": 0}, None)
        assert result["checked"] == 0
        service = aws_lambda._service()
        assert service.settings.nanonets_api_key.get_secret_value() == EMULATOR_KEY
    finally:
        aws_lambda._service.cache_clear()
