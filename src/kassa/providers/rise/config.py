"""The Rise client's configuration, from the ``RISE_*`` settings (seed 000's names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eth_account import Account
from pydantic import SecretStr

from kassa.core.errors import ConfigurationError
from kassa.providers.rise.dialect import ApiVersion

Environment = Literal["sandbox", "production"]

# Seed 000's hosts; a ``/v1`` or ``/v2`` suffix in RISE_API_BASE_URL (seed 000 writes
# ``.../v1``) is dropped, the client adds the version to each path.
BASE_URLS: dict[Environment, str] = {
    "sandbox": "https://b2b-api.staging-riseworks.io",
    "production": "https://b2b-api.riseworks.io",
}
# Rise settles on Arbitrum: One in production, Sepolia for the sandbox.
CHAIN_IDS: dict[Environment, int] = {"sandbox": 421614, "production": 42161}
NETWORKS: dict[Environment, str] = {"sandbox": "arbitrum-sepolia", "production": "arbitrum"}


@dataclass(frozen=True, slots=True)
class RiseConfig:
    company_id: str  # the company's RiseID (address of its Rise account)
    wallet_address: str
    private_key: SecretStr = field(repr=False)
    environment: Environment = "sandbox"
    api_version: ApiVersion = "v2"
    base_url: str | None = None
    batch_limit: int = 100
    timeout_seconds: float = 30.0
    refresh_margin_seconds: float = 300.0  # sign in again this long before the JWT expires

    def __post_init__(self) -> None:
        try:
            derived = Account.from_key(self.private_key.get_secret_value()).address
        except Exception:  # the cause may quote the key: never chain it
            raise ConfigurationError(
                "RISE_WALLET_PRIVATE_KEY is not a valid private key."
            ) from None
        if derived.lower() != self.wallet_address.lower():
            raise ConfigurationError(
                "RISE_WALLET_PRIVATE_KEY does not belong to RISE_WALLET_ADDRESS "
                f"({self.wallet_address})."
            )
        object.__setattr__(self, "wallet_address", derived)
        if self.batch_limit < 1:
            raise ConfigurationError("PAYMENT_BATCH_SIZE must be at least 1.")

    @property
    def root_url(self) -> str:
        url = (self.base_url or BASE_URLS[self.environment]).rstrip("/")
        for suffix in ("/v1", "/v2"):
            if url.endswith(suffix):
                url = url[: -len(suffix)]
        return url

    @property
    def chain_id(self) -> int:
        return CHAIN_IDS[self.environment]

    @property
    def network(self) -> str:
        return NETWORKS[self.environment]


def config_from_settings(settings: object) -> RiseConfig:
    """Build from ``core.settings.Settings`` (typed loosely so providers need not import it)."""

    def get(name: str) -> object:
        return getattr(settings, name, None)

    missing = [
        env
        for env, attr in (
            ("RISE_COMPANY_ID", "rise_company_id"),
            ("RISE_WALLET_ADDRESS", "rise_wallet_address"),
            ("RISE_WALLET_PRIVATE_KEY", "rise_wallet_private_key"),
        )
        if not get(attr)
    ]
    if missing:
        raise ConfigurationError(f"Rise needs {', '.join(missing)}.")
    key = get("rise_wallet_private_key")
    assert isinstance(key, SecretStr)
    return RiseConfig(
        company_id=str(get("rise_company_id")),
        wallet_address=str(get("rise_wallet_address")),
        private_key=key,
        environment=get("rise_environment") or "sandbox",  # type: ignore[arg-type]
        api_version=get("rise_api_version") or "v2",  # type: ignore[arg-type]
        base_url=str(get("rise_api_base_url")) if get("rise_api_base_url") else None,
        batch_limit=int(get("payment_batch_size") or 100),  # type: ignore[call-overload]
        timeout_seconds=float(get("provider_timeout_seconds") or 30.0),  # type: ignore[arg-type]
    )
