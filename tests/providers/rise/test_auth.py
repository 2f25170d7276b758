"""Signing in to Rise with SIWE: once, reused, renewed before expiry and after a 401."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from kassa.core.clock import FrozenClock
from kassa.providers.base import PermanentProviderError
from kassa.providers.rise.provider import RisePayoutProvider
from tests.fakes.rise.server import RiseStandIn
from tests.providers.rise.conftest import Paths, config_for


async def test_sign_in_then_every_call_reuses_the_token(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    await provider.authenticate()
    assert rise.sign_ins == 1
    for _ in range(3):
        await provider.balance("USD")
    assert rise.sign_ins == 1
    assert paths.challenge in rise.requests


async def test_a_first_call_signs_in_by_itself(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    await provider.balance("USD")
    assert rise.sign_ins == 1


async def test_the_token_is_renewed_before_it_expires(
    rise: RiseStandIn, wallet: LocalAccount, api_version: str
) -> None:
    from datetime import UTC, datetime

    clock = FrozenClock(datetime.now(UTC))
    client = RisePayoutProvider(config_for(rise, wallet, api_version), clock=clock)
    try:
        await client.balance("USD")
        # kassa's clock and Rise's move together
        clock.advance(timedelta(hours=23, minutes=50))  # still valid, outside the margin
        rise.offset = clock.now().timestamp() - time.time()
        await client.balance("USD")
        assert rise.sign_ins == 1
        clock.advance(timedelta(minutes=6))  # within 5 minutes of the 24 h expiry
        rise.offset = clock.now().timestamp() - time.time()
        await client.balance("USD")
        assert rise.sign_ins == 2
    finally:
        await client.aclose()


async def test_a_revoked_token_is_replaced_once_and_the_call_goes_through(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    await provider.authenticate()
    rise.revoke_tokens()
    balance = await provider.balance("USD")
    assert balance.available.currency == "USD"
    assert rise.sign_ins == 2
    assert "JWT_EXPIRED" in rise.refusals


async def test_a_wallet_rise_does_not_accept_fails_permanently(
    rise: RiseStandIn, api_version: str
) -> None:
    stranger = Account.create()
    client = RisePayoutProvider(config_for(rise, stranger, api_version))
    try:
        with pytest.raises(PermanentProviderError) as caught:
            await client.authenticate()
        assert caught.value.code == "provider_authentication_failed"
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("alter", "reason"),
    [
        (lambda text, wallet: text.replace(wallet, Account.create().address), "another wallet"),
        (
            lambda text, wallet: text.replace("Expiration Time: 20", "Expiration Time: 19"),
            "expired",
        ),
        (lambda text, wallet: text.replace("Version: 1", "Version: 9"), "not an EIP-4361"),
    ],
)
async def test_kassa_refuses_to_sign_a_message_it_should_not(
    rise: RiseStandIn,
    provider: RisePayoutProvider,
    wallet: LocalAccount,
    alter: Callable[[str, str], str],
    reason: str,
    paths: Paths,
) -> None:
    rise.alter_siwe = lambda text: alter(text, wallet.address)
    with pytest.raises(PermanentProviderError, match=reason) as caught:
        await provider.authenticate()
    assert caught.value.code == "provider_authentication_failed"
    assert not any(call == paths.verify for call in rise.requests)


async def test_calls_waiting_for_a_token_share_one_sign_in(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    import asyncio

    await asyncio.gather(*(provider.balance("USD") for _ in range(5)))
    assert rise.sign_ins == 1
