"""Secrets from SSM Parameter Store, for Lambda: the deployment names the parameters, never the values.

`NANONETS_API_KEY_SSM_PARAMETER=/nanonets-ingest/prod/nanonets-api-key` (a SecureString) fills
`NANONETS_API_KEY` once per container, before Settings are read; a value already in the environment wins.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from service.errors import IngestError

SECRET_PARAMETERS = {
    "NANONETS_API_KEY_SSM_PARAMETER": "NANONETS_API_KEY",
    "WEBHOOK_SECRET_SSM_PARAMETER": "WEBHOOK_SECRET",
    "SESSION_SECRET_SSM_PARAMETER": "SESSION_SECRET",
}


class SecretsUnavailable(IngestError):
    """A named SSM parameter could not be read (missing, or no permission)."""


def resolve_ssm_secrets(environ: MutableMapping[str, str], ssm_client: Any | None = None) -> list[str]:
    """Fill each secret variable from the SSM parameter its *_SSM_PARAMETER variable names.

    Returns the variables filled. One GetParameters call for all of them; WithDecryption for SecureString.
    """
    wanted = {
        environ[pointer]: target
        for pointer, target in SECRET_PARAMETERS.items()
        if environ.get(pointer) and not environ.get(target)
    }
    if not wanted:
        return []
    if ssm_client is None:
        import boto3

        ssm_client = boto3.client("ssm")
    answer = ssm_client.get_parameters(Names=sorted(wanted), WithDecryption=True)
    missing = sorted(answer.get("InvalidParameters", []))
    if missing:
        raise SecretsUnavailable(f"SSM parameter(s) not found: {', '.join(missing)}")
    for parameter in answer["Parameters"]:
        environ[wanted[parameter["Name"]]] = parameter["Value"]
    return sorted(wanted.values())
