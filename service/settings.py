"""Every setting of the service, read from the environment and a `.env` file.

Nothing else in the package reads `os.environ`: adapters and use cases are built from a `Settings` object,
so tests can build one pointed at local servers. Secrets are `SecretStr`, so they never show in a repr.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Annotated, Any, TypeVar

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.core.keys import prefix_shape

DEFAULT_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


S = TypeVar("S", bound="BaseSettings")

# http:// is allowed to the loopback only: the local receivers of tests and the demo.
EVENTS_TARGET_PATTERN = re.compile(
    r"^(eventbridge:[A-Za-z0-9._/-]{1,256}"
    r"|eventbridge:arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[A-Za-z0-9._/-]{1,256}"
    r"|sns:arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
    r"|https://[^\s/?#]+[^\s]*"
    r"|http://(127\.0\.0\.1|localhost)(:\d+)?(/[^\s]*)?)$"
)


class SettingsError(Exception):
    """A missing or malformed setting; its text is one line naming the variable."""


def _env_config() -> SettingsConfigDict:
    return SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # Validators built on first use: a Lambda loads `Settings` only, never the CLI's smaller sets.
        defer_build=True,
    )


class NanonetsSettings(BaseSettings):
    """What talking to the Nanonets API needs; enough for `nanonets-ingest api ...`."""

    model_config = _env_config()

    nanonets_api_key: SecretStr
    nanonets_model_id: str = Field(min_length=1)
    nanonets_base_url: str = "https://app.nanonets.com/api/v2"
    nanonets_connect_timeout: float = Field(default=5.0, gt=0)
    nanonets_read_timeout: float = Field(default=60.0, gt=0)
    # Retries on 429/5xx/connection errors: attempts and an overall cap on the time spent sleeping.
    nanonets_max_retries: int = Field(default=5, ge=0, le=20)
    nanonets_backoff_factor: float = Field(default=0.5, ge=0)
    nanonets_backoff_max_seconds: float = Field(default=30.0, gt=0)

    @field_validator("nanonets_api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("nanonets_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


class ReviewUsersSettings(BaseSettings):
    """Enough for `nanonets-ingest review add-user`: where the reviewers are kept, nothing else required."""

    model_config = _env_config()

    review_users_file: str | None = None


class Settings(NanonetsSettings):
    """The whole service: intake, webhook, outputs, state."""

    output_bucket: str = Field(min_length=3)
    output_prefix: str = "normalized/"
    input_prefix: str = "incoming/"
    input_suffixes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SUFFIXES
    state_bucket: str | None = None
    state_prefix: str = "_state/"
    webhook_secret: SecretStr | None = None
    presign_ttl_seconds: int = Field(default=21600, gt=0)
    validation_rules: str | None = None
    max_body_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_document_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    verify_by_fetch: bool = False
    auto_approve: bool = False
    # With AUTO_APPROVE: the confidence every field must reach when the rules file sets no min_confidence.
    auto_approve_min_confidence: float = Field(default=0.8, ge=0, le=1)
    max_pending_seconds: int = Field(default=86400, gt=0)
    # Routes: prefix -> model and rules (docs/ROUTES_EVENTS_ANALYTICS.md). Unset: one route from
    # NANONETS_MODEL_ID, VALIDATION_RULES, INPUT_PREFIX and OUTPUT_PREFIX.
    routes_file: str | None = None
    # Completion events: eventbridge:<bus name>, sns:<topic arn> or an https:// URL. Unset: none sent.
    events_target: str | None = None
    # Standard Webhooks secret (whsec_<base64 of 24-64 random bytes>); required for an https:// target.
    events_signing_secret: SecretStr | None = Field(default=None, validate_default=True)
    # An undelivered event is retried by each reconcile run; after this many attempts it is dead-lettered.
    events_max_attempts: int = Field(default=20, gt=0, le=1000)
    # The flat dataset for Athena and `export`: <ANALYTICS_PREFIX>rows/dt=YYYY-MM-DD/ in OUTPUT_BUCKET.
    analytics_prefix: str = "analytics/"
    # A claim still "submitting" after this long belongs to a worker that died: reconcile takes it over.
    claim_stale_seconds: int = Field(default=300, gt=0)
    reconcile_older_than_seconds: int = Field(default=900, ge=0)
    reconcile_batch_limit: int = Field(default=500, gt=0)
    # Hosts whose SNS SubscribeURL may be fetched. Real AWS: sns.<region>.amazonaws.com (always allowed).
    sns_extra_subscribe_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    # The model's page budget per minute, shared by every worker and Lambda instance (CONTRACT 1.1).
    # Nanonets Pro/Enterprise: 150 (custom models), 75 (instant-learning); pay-as-you-go: 2 after 50 pages.
    nanonets_pages_per_minute: int = Field(default=150, gt=0)
    # The window of that budget. Nanonets counts per minute; change it only to scale time down in a benchmark.
    nanonets_pacing_window_seconds: float = Field(default=60.0, gt=0)
    # After a 429 (live Nanonets sends no Retry-After; its reference says wait 30 s, then back off).
    nanonets_429_pause_seconds: float = Field(default=30.0, gt=0)
    # While a 402 (credit used up) stops submissions: how often one submission asks whether it is over.
    nanonets_402_probe_seconds: float = Field(default=60.0, gt=0)
    # The review console at /review (docs/REVIEW.md): off unless asked for; then it needs both of these.
    review_enabled: bool = False
    review_users_file: str | None = None
    session_secret: SecretStr | None = None
    # Push console corrections and approvals to Nanonets (UpdateFile + approve), so the model learns.
    review_push_to_nanonets: bool = False
    # Bearer token for GET /metrics; unset, the endpoint is open on the service's own port.
    metrics_token: SecretStr | None = None
    # prometheus-client's own variable (multiprocess mode); service/gunicorn_conf.py sets it for gunicorn.
    prometheus_multiproc_dir: str | None = None
    aws_endpoint_url: str | None = None
    # boto3's own name for an SQS endpoint of its own (ChangeMessageVisibility of a held-back message);
    # unset: AWS_ENDPOINT_URL. Only a local stack with S3 and SQS on different servers needs it.
    aws_endpoint_url_sqs: str | None = None
    aws_default_region: str = "us-east-1"
    log_level: str = "INFO"

    @field_validator("input_suffixes", "sns_extra_subscribe_hosts", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("input_suffixes")
    @classmethod
    def _lower_suffixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one suffix")
        return tuple(s.lower() if s.startswith(".") else "." + s.lower() for s in value)

    @field_validator("input_prefix", "output_prefix", "state_prefix", "analytics_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        return prefix_shape(value)

    @field_validator("routes_file", "events_target", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # serverless.yml passes `${env:EVENTS_TARGET, ''}`: an empty variable means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("events_target")
    @classmethod
    def _events_target_shape(cls, value: str | None) -> str | None:
        if value is not None and not EVENTS_TARGET_PATTERN.match(value):
            raise ValueError(
                "expected eventbridge:<bus name>, sns:arn:aws:sns:<region>:<account>:<topic> or an "
                "https:// URL (http:// only to 127.0.0.1/localhost, for tests)"
            )
        return value

    @field_validator("events_signing_secret")
    @classmethod
    def _events_secret_shape(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        target = info.data.get("events_target")
        if value is None:
            if target and target.startswith(("https://", "http://")):
                raise ValueError("required when EVENTS_TARGET is a URL (events are signed)")
            return None
        text = value.get_secret_value()
        key = text.removeprefix("whsec_")
        try:
            decoded = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if not text.startswith("whsec_") or not 24 <= len(decoded) <= 64:
            raise ValueError("expected whsec_ followed by the base64 of 24 to 64 random bytes")
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("webhook_secret", "metrics_token")
    @classmethod
    def _secret_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters")
        return value

    @field_validator("session_secret")
    @classmethod
    def _session_secret_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (it signs reviewer sessions)")
        return value

    @model_validator(mode="after")
    def _state_defaults(self) -> Settings:
        if not self.state_bucket:
            self.state_bucket = self.output_bucket
        return self

    @property
    def sqs_endpoint_url(self) -> str | None:
        return self.aws_endpoint_url_sqs or self.aws_endpoint_url

    @property
    def state_bucket_name(self) -> str:
        return self.state_bucket or self.output_bucket

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, for the log redaction (one list, every entry point)."""
        values = [self.nanonets_api_key.get_secret_value()]
        for name, value in self:
            if isinstance(value, SecretStr) and name != "nanonets_api_key":
                values.append(value.get_secret_value())
        return values

    def require_review_console(self) -> tuple[str, SecretStr]:
        """(users file, session secret) of the review console; refuses to start it half-configured."""
        if self.session_secret is None:
            raise SettingsError("missing required setting SESSION_SECRET (REVIEW_ENABLED is true)")
        if not self.review_users_file:
            raise SettingsError("missing required setting REVIEW_USERS_FILE (REVIEW_ENABLED is true)")
        if self.webhook_secret is not None and hmac.compare_digest(
            self.webhook_secret.get_secret_value().encode(), self.session_secret.get_secret_value().encode()
        ):
            raise SettingsError("invalid setting SESSION_SECRET: must not be the WEBHOOK_SECRET")
        return self.review_users_file, self.session_secret

    def require_webhook_secret(self) -> SecretStr:
        if self.webhook_secret is None:
            raise SettingsError("missing required setting WEBHOOK_SECRET (the shared secret of the webhook)")
        return self.webhook_secret


def describe_settings_error(error: ValidationError) -> str:
    """One line naming the first bad variable, e.g. 'missing required setting OUTPUT_BUCKET'."""
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "?"
    if first["type"] == "missing":
        return f"missing required setting {name}"
    return f"invalid setting {name}: {first['msg']}"


def load_settings(**overrides: Any) -> Settings:
    """Build the service settings or raise `SettingsError` with one clear line."""
    return _load(Settings, overrides)


def load_review_users_settings(**overrides: Any) -> ReviewUsersSettings:
    return _load(ReviewUsersSettings, overrides)


def load_nanonets_settings(**overrides: Any) -> NanonetsSettings:
    """Only what the API client needs (for `nanonets-ingest api ...`)."""
    return _load(NanonetsSettings, overrides)


def _load(cls: type[S], overrides: dict[str, Any]) -> S:
    try:
        return cls(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_settings_error(error)) from None
