"""Settings: environment variables first, then an optional YAML file, then defaults.

Every setting is an environment variable. kassa's own are ``KASSA_*``; where a seed document
names a setting (``PAYMENT_PROVIDER``, ``PAYMENT_BATCH_SIZE``, ``RISE_*``) that name is used.
A YAML file (``KASSA_CONFIG_FILE``, default ``./kassa.yaml`` when it exists) may hold the same
keys in lower case without the ``KASSA_`` prefix: ``database_url: postgresql://...``.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kassa.core.errors import ConfigurationError

Mode = Literal["development", "production"]


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the optional YAML file; keys are field names (``database_url``)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("KASSA_CONFIG_FILE", "kassa.yaml"))
        self._data: dict[str, Any] = {}
        if path.is_file():
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ConfigurationError(f"{path} must hold a mapping of settings.")
            self._data = {str(k).lower(): v for k, v in loaded.items()}
        elif "KASSA_CONFIG_FILE" in os.environ:
            raise ConfigurationError(f"KASSA_CONFIG_FILE points at {path}, which does not exist.")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        known = set(self.settings_cls.model_fields)
        return {k: v for k, v in self._data.items() if k in known}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # -- process ------------------------------------------------------------------------------
    env: Mode = Field("development", validation_alias=_alias("KASSA_ENV"))
    host: str = Field("127.0.0.1", validation_alias=_alias("KASSA_HOST"))
    port: int = Field(8000, validation_alias=_alias("KASSA_PORT"))
    public_url: str | None = Field(None, validation_alias=_alias("KASSA_PUBLIC_URL"))
    var_dir: Path = Field(Path("var"), validation_alias=_alias("KASSA_VAR_DIR"))
    secret_key: SecretStr | None = Field(None, validation_alias=_alias("KASSA_SECRET_KEY"))
    log_level: str = Field("INFO", validation_alias=_alias("KASSA_LOG_LEVEL"))
    log_format: Literal["json", "text"] | None = Field(
        None,
        validation_alias=_alias("KASSA_LOG_FORMAT"),
        description="json or text; default text in development, json in production.",
    )
    api_workers: int = Field(1, ge=1, validation_alias=_alias("KASSA_API_WORKERS"))
    plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_alias("KASSA_PLUGINS")
    )

    # -- database -----------------------------------------------------------------------------
    database_url: str = Field("", validation_alias=_alias("KASSA_DATABASE_URL", "DATABASE_URL"))
    database_pool_size: int = Field(10, ge=1, validation_alias=_alias("KASSA_DATABASE_POOL_SIZE"))
    database_echo: bool = Field(False, validation_alias=_alias("KASSA_DATABASE_ECHO"))

    # -- API ----------------------------------------------------------------------------------
    max_body_bytes: int = Field(1_048_576, ge=1024, validation_alias=_alias("KASSA_MAX_BODY_BYTES"))
    redis_url: SecretStr | None = Field(None, validation_alias=_alias("KASSA_REDIS_URL"))
    rate_limit_per_key: float = Field(
        100.0,
        ge=0,
        validation_alias=_alias("KASSA_RATE_LIMIT_PER_KEY"),
        description="Requests per second per API key (0 turns the limit off).",
    )
    rate_limit_per_ip: float = Field(
        200.0,
        ge=0,
        validation_alias=_alias("KASSA_RATE_LIMIT_PER_IP"),
        description="Requests per second per client IP (0 turns the limit off).",
    )
    rate_limit_burst: float = Field(2.0, ge=1, validation_alias=_alias("KASSA_RATE_LIMIT_BURST"))
    user_token_ttl_seconds: int = Field(
        3600, ge=60, validation_alias=_alias("KASSA_USER_TOKEN_TTL_SECONDS")
    )
    idempotency_ttl_hours: float = Field(
        24.0, gt=0, validation_alias=_alias("KASSA_IDEMPOTENCY_TTL_HOURS")
    )
    idempotency_lock_timeout_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=_alias("KASSA_IDEMPOTENCY_LOCK_TIMEOUT_SECONDS"),
        description="After this long an unfinished request's key may be taken over.",
    )

    # -- jobs ---------------------------------------------------------------------------------
    worker_concurrency: int = Field(32, ge=1, validation_alias=_alias("KASSA_WORKER_CONCURRENCY"))
    worker_poll_interval: float = Field(
        0.2, gt=0, validation_alias=_alias("KASSA_WORKER_POLL_INTERVAL")
    )
    job_lease_seconds: int = Field(60, ge=5, validation_alias=_alias("KASSA_JOB_LEASE_SECONDS"))
    job_retention_hours: int = Field(72, ge=1, validation_alias=_alias("KASSA_JOB_RETENTION_HOURS"))

    # -- outbound webhooks ---------------------------------------------------------------------
    webhook_allow_private: bool = Field(
        False,
        validation_alias=_alias("KASSA_WEBHOOK_ALLOW_PRIVATE"),
        description="Allow http:// and private/loopback/link-local targets (development only).",
    )
    webhook_timeout_seconds: float = Field(
        15.0, gt=0, le=120, validation_alias=_alias("KASSA_WEBHOOK_TIMEOUT_SECONDS")
    )
    webhook_retry_schedule: str = Field(
        "0,5s,5m,30m,2h,5h,10h,10h",
        validation_alias=_alias("KASSA_WEBHOOK_RETRY_SCHEDULE"),
        description="Delay before each attempt, comma-separated (s/m/h/d); ±20 % jitter.",
    )
    webhook_retry_after_max_seconds: float = Field(
        3600.0, ge=0, validation_alias=_alias("KASSA_WEBHOOK_RETRY_AFTER_MAX_SECONDS")
    )
    webhook_max_in_flight_per_endpoint: int = Field(
        10, ge=1, validation_alias=_alias("KASSA_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT")
    )
    webhook_disable_after_seconds: float = Field(
        5 * 86400.0, gt=0, validation_alias=_alias("KASSA_WEBHOOK_DISABLE_AFTER_SECONDS")
    )
    webhook_failing_min_span_seconds: float = Field(
        12 * 3600.0, ge=0, validation_alias=_alias("KASSA_WEBHOOK_FAILING_MIN_SPAN_SECONDS")
    )
    webhook_secret_grace_seconds: float = Field(
        86400.0, ge=0, validation_alias=_alias("KASSA_WEBHOOK_SECRET_GRACE_SECONDS")
    )

    # -- email (notify) ------------------------------------------------------------------------
    smtp_host: str | None = Field(None, validation_alias=_alias("KASSA_SMTP_HOST"))
    smtp_port: int = Field(587, ge=1, le=65535, validation_alias=_alias("KASSA_SMTP_PORT"))
    smtp_username: str | None = Field(None, validation_alias=_alias("KASSA_SMTP_USERNAME"))
    smtp_password: SecretStr | None = Field(None, validation_alias=_alias("KASSA_SMTP_PASSWORD"))
    smtp_from: str = Field("kassa@localhost", validation_alias=_alias("KASSA_SMTP_FROM"))
    smtp_starttls: bool = Field(True, validation_alias=_alias("KASSA_SMTP_STARTTLS"))

    # -- providers (names from the seed documents) --------------------------------------------
    payment_provider: str = Field("mock", validation_alias=_alias("PAYMENT_PROVIDER"))
    payment_batch_size: int = Field(100, ge=1, validation_alias=_alias("PAYMENT_BATCH_SIZE"))
    payment_minimum_threshold: str = Field(
        "50.00", validation_alias=_alias("PAYMENT_MINIMUM_THRESHOLD")
    )
    rise_environment: Literal["sandbox", "production"] = Field(
        "sandbox", validation_alias=_alias("RISE_ENVIRONMENT")
    )
    rise_api_base_url: str | None = Field(None, validation_alias=_alias("RISE_API_BASE_URL"))
    rise_company_id: str | None = Field(None, validation_alias=_alias("RISE_COMPANY_ID"))
    rise_wallet_address: str | None = Field(None, validation_alias=_alias("RISE_WALLET_ADDRESS"))
    rise_wallet_private_key: SecretStr | None = Field(
        None, validation_alias=_alias("RISE_WALLET_PRIVATE_KEY")
    )

    # -- pay-ins: providers, resilience, reconciliation ----------------------------------------
    providers_enabled: str = Field(
        "",
        validation_alias=_alias("KASSA_PROVIDERS"),
        description="Extra provider names payments may pick (comma-separated), e.g. mock_b.",
    )
    provider_failover: str = Field(
        "",
        validation_alias=_alias("KASSA_PROVIDER_FAILOVER"),
        description="Failover order on transient errors, e.g. mock,mock_b (off when empty).",
    )
    provider_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=_alias("KASSA_PROVIDER_TIMEOUT_SECONDS")
    )
    provider_retry_attempts: int = Field(
        3, ge=1, le=10, validation_alias=_alias("KASSA_PROVIDER_RETRY_ATTEMPTS")
    )
    circuit_failure_threshold: int = Field(
        5, ge=1, validation_alias=_alias("KASSA_CIRCUIT_FAILURE_THRESHOLD")
    )
    circuit_reset_seconds: float = Field(
        30.0, gt=0, validation_alias=_alias("KASSA_CIRCUIT_RESET_SECONDS")
    )
    reconcile_after_seconds: float = Field(
        120.0, gt=0, validation_alias=_alias("KASSA_RECONCILE_AFTER_SECONDS")
    )
    mock_failure_rate: float = Field(0.0, ge=0, le=1, validation_alias=_alias("MOCK_FAILURE_RATE"))
    mock_payment_delay: float = Field(0.0, ge=0, validation_alias=_alias("MOCK_PAYMENT_DELAY"))

    @field_validator("plugins", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls), file_secret_settings)

    # -- derived ------------------------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL: SQLite under var/ by default, drivers filled in."""
        url = self.database_url or f"sqlite+aiosqlite:///{self.var_dir / 'kassa.db'}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url

    @property
    def effective_log_format(self) -> str:
        return self.log_format or ("json" if self.is_production else "text")

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def secret_key_bytes(self) -> bytes:
        """The secret key; in development one is generated once and kept under var/."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.is_production:
            raise ConfigurationError(
                "KASSA_SECRET_KEY is not set. Production mode refuses to start without it; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        path = self.var_dir / "secret_key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
