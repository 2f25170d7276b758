"""The Rise client's configuration from the seed's RISE_* settings."""

from __future__ import annotations

import pytest
from eth_account import Account

from kassa.core.errors import ConfigurationError
from kassa.core.settings import Settings
from kassa.providers.rise.config import config_from_settings


def test_settings_make_a_config() -> None:
    wallet = Account.create()
    settings = Settings(
        rise_company_id="0x" + "11" * 20,
        rise_wallet_address=wallet.address.lower(),
        rise_wallet_private_key="0x" + bytes(wallet.key).hex(),  # type: ignore[arg-type]
        rise_api_base_url="https://b2b-api.staging-riseworks.io/v1",
    )
    config = config_from_settings(settings)
    assert config.root_url == "https://b2b-api.staging-riseworks.io"
    assert config.wallet_address == wallet.address  # checksummed
    assert config.batch_limit == 100 and config.chain_id == 421614
    production = config_from_settings(
        settings.model_copy(update={"rise_environment": "production", "rise_api_base_url": None})
    )
    assert production.root_url == "https://b2b-api.riseworks.io" and production.chain_id == 42161


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigurationError, match=r"RISE_COMPANY_ID.*RISE_WALLET_PRIVATE_KEY"):
        config_from_settings(Settings())


def test_the_api_version_is_a_setting() -> None:
    wallet = Account.create()
    settings = Settings(
        rise_company_id="0x" + "11" * 20,
        rise_wallet_address=wallet.address,
        rise_wallet_private_key="0x" + bytes(wallet.key).hex(),  # type: ignore[arg-type]
    )
    assert config_from_settings(settings).api_version == "v2"
    v1 = settings.model_copy(update={"rise_api_version": "v1"})
    assert config_from_settings(v1).api_version == "v1"
