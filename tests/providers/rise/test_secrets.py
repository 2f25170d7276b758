"""The company wallet's private key never reaches a log line, an error or a repr."""

from __future__ import annotations

import logging

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from kassa.core.errors import ConfigurationError
from kassa.core.money import Money
from kassa.providers.base import PayoutRequest, ProviderError
from kassa.providers.rise.config import RiseConfig
from kassa.providers.rise.provider import RisePayoutProvider
from tests.fakes.rise.server import RiseStandIn
from tests.providers.rise.conftest import Paths, config_for


def _forms(wallet: LocalAccount) -> list[str]:
    raw = bytes(wallet.key).hex()
    return [raw, raw.upper(), "0x" + raw]


async def test_the_key_is_in_no_log_error_or_repr(
    rise: RiseStandIn,
    wallet: LocalAccount,
    caplog: pytest.LogCaptureFixture,
    paths: Paths,
    api_version: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = config_for(rise, wallet, api_version)
    provider = RisePayoutProvider(config)
    seen: list[str] = [repr(config), repr(provider), str(config)]
    try:
        payee = rise.add_payee("a@example.com", kyc_status="pending")
        await provider.authenticate()
        for fault in (500, 429, 400):
            rise.fail(*paths.execute, fault)
            with pytest.raises(ProviderError) as caught:
                await provider.send_payment(
                    PayoutRequest(f"po_{fault}", payee.riseid, Money(1, "USD"))
                )
            seen += [str(caught.value), repr(caught.value)]
        with pytest.raises(ProviderError) as declined:
            await provider.send_payment(PayoutRequest("po_kyc", payee.riseid, Money(1, "USD")))
        seen.append(str(declined.value))
        rise.company_wallet = Account.create().address  # sign-in refused from now on
        rise.revoke_tokens()
        with pytest.raises(ProviderError) as refused:
            await provider.balance("USD")
        seen.append(str(refused.value))
    finally:
        await provider.aclose()
    assert caplog.records, "the client logs what it does"
    text = caplog.text + "\n".join(seen)
    for record in caplog.records:
        text += repr(record.__dict__)
    for form in _forms(wallet):
        assert form not in text


def test_a_bad_key_is_refused_without_quoting_it() -> None:
    bad = "0x" + "zz" * 32
    with pytest.raises(ConfigurationError) as caught:
        RiseConfig(
            company_id="0x" + "11" * 20, wallet_address="0x" + "22" * 20, private_key=SecretStr(bad)
        )
    assert "zz" not in str(caught.value) and caught.value.__cause__ is None


def test_a_key_of_another_wallet_is_refused_without_quoting_it() -> None:
    key = Account.create()
    with pytest.raises(ConfigurationError, match="does not belong") as caught:
        RiseConfig(
            company_id="0x" + "11" * 20,
            wallet_address=Account.create().address,
            private_key=SecretStr(bytes(key.key).hex()),
        )
    assert bytes(key.key).hex() not in str(caught.value)
