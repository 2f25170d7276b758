"""Settings: environment variables first, then an optional YAML file, then defaults.

Every setting is an environment variable. kassa's own are ``KASSA_*``; where a seed document
names a setting (``PAYMENT_PROVIDER``, ``PAYMENT_BATCH_SIZE``, ``RISE_*``) that name is used.
A YAML file (``KASSA_CONFIG_FILE``, default ``./kassa.yaml`` when it exists) may hold the same
keys in lower case without the ``KASSA_`` prefix: ``database_url: postgresql://...``.
"""

from __future__ import annotations

import contextlib
import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kassa.core.chain_settings import ChainSettings, TokenSettings
from kassa.core.errors import ConfigurationError
from kassa.core.payout_settings import PAYOUT_ONLY_PROVIDERS, PayoutSettings
from kassa.core.payout_settings import alias as _alias
from kassa.core.private_files import write_private
from kassa.core.settings_yaml import YamlSource

Mode = Literal["development", "production"]

__all__ = ["ChainSettings", "Settings", "TokenSettings", "get_settings"]


class Settings(PayoutSettings):
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
    # -- sign-in throttling (accounts/login_throttle.py) ---------------------------------------
    login_max_failures: int = Field(
        5,
        ge=1,
        validation_alias=_alias("KASSA_LOGIN_MAX_FAILURES"),
        description="Failed sign-ins for one email within the window before it is locked.",
    )
    login_max_failures_per_ip: int = Field(
        20,
        ge=1,
        validation_alias=_alias("KASSA_LOGIN_MAX_FAILURES_PER_IP"),
        description="Failed sign-ins from one client address within the window before it is "
        "locked.",
    )
    login_failure_window_seconds: float = Field(
        900.0,
        gt=0,
        validation_alias=_alias("KASSA_LOGIN_FAILURE_WINDOW_SECONDS"),
        description="Failures are counted from the first one for this long, then forgotten.",
    )
    login_lockout_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=_alias("KASSA_LOGIN_LOCKOUT_SECONDS"),
        description="The first lockout; each next one of the same email or address doubles.",
    )
    login_lockout_max_seconds: float = Field(
        3600.0,
        gt=0,
        validation_alias=_alias("KASSA_LOGIN_LOCKOUT_MAX_SECONDS"),
        description="The longest lockout.",
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

    # -- inbound provider webhooks (webhooks/inbound) --------------------------------------------
    inbound_webhook_tolerance_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias=_alias("KASSA_INBOUND_WEBHOOK_TOLERANCE_SECONDS"),
        description="How far a signed timestamp (Stripe t=, PayPal transmission time) may be "
        "from now; older or newer deliveries are refused as stale.",
    )
    inbound_webhook_max_body_bytes: int = Field(
        1_048_576, ge=1024, validation_alias=_alias("KASSA_INBOUND_WEBHOOK_MAX_BODY_BYTES")
    )
    paypal_webhook_verify: Literal["local", "api"] = Field(
        "local",
        validation_alias=_alias("KASSA_PAYPAL_WEBHOOK_VERIFY"),
        description="local: check the transmission signature with PayPal's certificate; api: "
        "ask PayPal's verify-webhook-signature API.",
    )
    paypal_cert_hosts: str = Field(
        "api.paypal.com,api-m.paypal.com,api.sandbox.paypal.com,api-m.sandbox.paypal.com",
        validation_alias=_alias("KASSA_PAYPAL_CERT_HOSTS"),
        description="Where PAYPAL-CERT-URL may point (comma-separated): host names (HTTPS), "
        "or origins such as http://127.0.0.1:8123 (tests).",
    )
    inbound_invalid_signature_alert_threshold: int = Field(
        20,
        ge=1,
        validation_alias=_alias("KASSA_INBOUND_INVALID_SIGNATURE_ALERT_THRESHOLD"),
        description="Invalid signatures for one webhook URL within the window that alert its "
        "admins by email (at most one alert per window).",
    )
    inbound_invalid_signature_alert_window_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias=_alias("KASSA_INBOUND_INVALID_SIGNATURE_ALERT_WINDOW_SECONDS"),
    )

    # -- email (notify) ------------------------------------------------------------------------
    smtp_host: str | None = Field(None, validation_alias=_alias("KASSA_SMTP_HOST"))
    smtp_port: int = Field(587, ge=1, le=65535, validation_alias=_alias("KASSA_SMTP_PORT"))
    smtp_username: str | None = Field(None, validation_alias=_alias("KASSA_SMTP_USERNAME"))
    smtp_password: SecretStr | None = Field(None, validation_alias=_alias("KASSA_SMTP_PASSWORD"))
    smtp_from: str = Field("kassa@localhost", validation_alias=_alias("KASSA_SMTP_FROM"))
    smtp_starttls: bool = Field(True, validation_alias=_alias("KASSA_SMTP_STARTTLS"))

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
    action_confirm_after_seconds: float = Field(
        900.0,
        gt=0,
        validation_alias=_alias("KASSA_ACTION_CONFIRM_AFTER_SECONDS"),
        description="Reconciliation confirms a payment waiting this long for the customer.",
    )
    action_expires_after_seconds: float = Field(
        86400.0,
        gt=0,
        validation_alias=_alias("KASSA_ACTION_EXPIRES_AFTER_SECONDS"),
        description="A payment still waiting for the customer this long after its creation "
        "is abandoned: canceled at the provider.",
    )
    # -- the install's default credentials per provider (accounts may bring their own) -------
    stripe_secret_key: SecretStr | None = Field(
        None,
        validation_alias=_alias("KASSA_STRIPE_SECRET_KEY"),
        description="sk_test_... or sk_live_...",
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None,
        validation_alias=_alias("KASSA_STRIPE_WEBHOOK_SECRET"),
        description="whsec_... signing secrets, comma-separated (several during a rotation).",
    )
    stripe_api_base: str | None = Field(None, validation_alias=_alias("KASSA_STRIPE_API_BASE"))
    paypal_client_id: str | None = Field(None, validation_alias=_alias("KASSA_PAYPAL_CLIENT_ID"))
    paypal_client_secret: SecretStr | None = Field(
        None, validation_alias=_alias("KASSA_PAYPAL_CLIENT_SECRET")
    )
    paypal_webhook_id: str | None = Field(None, validation_alias=_alias("KASSA_PAYPAL_WEBHOOK_ID"))
    paypal_environment: Literal["sandbox", "live"] = Field(
        "sandbox", validation_alias=_alias("KASSA_PAYPAL_ENVIRONMENT")
    )
    paypal_api_base: str | None = Field(None, validation_alias=_alias("KASSA_PAYPAL_API_BASE"))
    braintree_merchant_id: str | None = Field(
        None, validation_alias=_alias("KASSA_BRAINTREE_MERCHANT_ID")
    )
    braintree_public_key: str | None = Field(
        None, validation_alias=_alias("KASSA_BRAINTREE_PUBLIC_KEY")
    )
    braintree_private_key: SecretStr | None = Field(
        None, validation_alias=_alias("KASSA_BRAINTREE_PRIVATE_KEY")
    )
    braintree_environment: Literal["sandbox", "production"] = Field(
        "sandbox", validation_alias=_alias("KASSA_BRAINTREE_ENVIRONMENT")
    )
    braintree_api_base: str | None = Field(
        None,
        validation_alias=_alias("KASSA_BRAINTREE_API_BASE"),
        description="Another gateway URL than the environment's (tests: a stand-in).",
    )
    # -- stablecoins: the EVM chains and token contracts kassa watches -----------------------
    chains: dict[str, ChainSettings] = Field(
        default_factory=dict,
        validation_alias=_alias("KASSA_CHAINS"),
        description="Per chain key: chain_id, rpc_urls, confirmations, tokens (JSON in the env).",
    )
    payment_session_expiry_seconds: int = Field(
        7 * 86400,
        ge=60,
        validation_alias=_alias("KASSA_PAYMENT_SESSION_EXPIRY_SECONDS"),
        description="How long a payment session waits to be paid unless it says (seed: 7 days).",
    )
    chain_rpc_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias=_alias("KASSA_CHAIN_RPC_TIMEOUT_SECONDS")
    )
    chain_node_max_lag_blocks: int = Field(
        5,
        ge=0,
        validation_alias=_alias("KASSA_CHAIN_NODE_MAX_LAG_BLOCKS"),
        description="A node this many blocks behind the highest one is not used.",
    )
    # -- stablecoin refunds: the hot wallet they are sent from ------------------------------
    hot_wallet_private_key: SecretStr | None = Field(
        None,
        validation_alias=_alias("KASSA_HOT_WALLET_PRIVATE_KEY"),
        description="The refund wallet's key (0x + 64 hex digits); or KASSA_HOT_WALLET_KEY_FILE.",
    )
    hot_wallet_key_file: Path | None = Field(
        None,
        validation_alias=_alias("KASSA_HOT_WALLET_KEY_FILE"),
        description="A key file written by `kassa chain hot-wallet import` (KASSA_SECRET_KEY).",
    )
    refund_max_fee_gwei: Decimal = Field(
        Decimal(200),
        gt=0,
        validation_alias=_alias("KASSA_REFUND_MAX_FEE_GWEI"),
        description="Refunds wait while the base fee (plus tip) is above this many gwei.",
    )
    refund_stuck_blocks: int = Field(
        20,
        ge=1,
        validation_alias=_alias("KASSA_REFUND_STUCK_BLOCKS"),
        description="A refund not mined after this many blocks is re-sent with a higher fee.",
    )
    hot_wallet_low_token_usd: Decimal = Field(
        Decimal(1000),
        ge=0,
        validation_alias=_alias("KASSA_HOT_WALLET_LOW_TOKEN_USD"),
        description="Alert when the hot wallet holds less of a token (seed 002: $1,000).",
    )
    hot_wallet_low_gas_ether: Decimal = Field(
        Decimal("0.05"),
        ge=0,
        validation_alias=_alias("KASSA_HOT_WALLET_LOW_GAS_ETHER"),
        description="Alert when the hot wallet's native balance (for gas) is below this.",
    )
    chain_down_alert_seconds: int = Field(
        300,
        ge=0,
        validation_alias=_alias("KASSA_CHAIN_DOWN_ALERT_SECONDS"),
        description="Alert the admins when every node of a chain is down this long.",
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
        return (init_settings, env_settings, YamlSource(settings_cls), file_secret_settings)

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
    def payin_default_provider(self) -> str:
        """PAYMENT_PROVIDER as pay-ins read it. ``rise`` pays out only: seed 000's
        ``PAYMENT_PROVIDER=rise`` chooses payouts, and pay-ins keep their default (mock)."""
        return "mock" if self.payment_provider in PAYOUT_ONLY_PROVIDERS else self.payment_provider

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
            # Private from its first byte; if another process was first, its key is kept.
            with contextlib.suppress(FileExistsError):
                write_private(path, secrets.token_urlsafe(48), exclusive=True)
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
