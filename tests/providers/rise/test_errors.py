"""What Rise's failures become in kassa's error tree."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from kassa.core.money import Money
from kassa.providers.base import (
    BatchPayoutRequest,
    PayoutRequest,
    PermanentProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.rise.provider import RisePayoutProvider
from tests.fakes.rise.server import RiseStandIn
from tests.providers.rise.conftest import Paths, config_for


def _pay(payee: str, key: str = "po_1/send", cents: int = 500) -> PayoutRequest:
    return PayoutRequest(key, payee, Money(cents, "USD"))


async def test_a_5xx_on_a_read_is_transient_and_not_ambiguous(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    rise.fail("GET", paths.riseid, 500)
    with pytest.raises(TransientProviderError) as caught:
        await provider.balance("USD")
    assert caught.value.code == "provider_down" and not caught.value.ambiguous


async def test_a_5xx_on_a_payment_is_ambiguous(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    payee = rise.add_payee("a@example.com")
    rise.fail(*paths.execute, 502)
    with pytest.raises(TransientProviderError) as caught:
        await provider.send_payment(_pay(payee.riseid))
    assert caught.value.ambiguous


async def test_429_is_rate_limited_with_retry_after(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    rise.fail("GET", paths.riseid, 429, code="RATE_LIMITED", headers={"Retry-After": "3"})
    with pytest.raises(RateLimitedError) as caught:
        await provider.balance("USD")
    assert caught.value.retry_after == 3.0


async def test_a_slow_rise_is_a_timeout(
    rise: RiseStandIn, wallet: LocalAccount, paths: Paths, api_version: str
) -> None:
    client = RisePayoutProvider(config_for(rise, wallet, api_version, timeout_seconds=0.2))
    try:
        await client.authenticate()
        rise.hang("GET", paths.riseid, 1.0)
        with pytest.raises(TransientProviderError) as caught:
            await client.balance("USD")
        assert caught.value.code == "timeout" and not caught.value.ambiguous
    finally:
        await client.aclose()


async def test_rise_down_is_transient_and_nothing_was_sent(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    await rise.stop()
    with pytest.raises(TransientProviderError) as caught:
        await provider.send_payment(_pay("0x" + "11" * 20))
    assert caught.value.code == "provider_down" and not caught.value.ambiguous


async def test_a_refused_signature_is_permanent(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    payee = rise.add_payee("a@example.com")
    rise.fail(*paths.execute, 400, code="INVALID_SIGNATURE")
    with pytest.raises(PermanentProviderError) as caught:
        await provider.send_payment(_pay(payee.riseid))
    assert caught.value.code == "provider_rejected" and "INVALID_SIGNATURE" in caught.value.message


async def test_typed_data_that_is_not_what_was_asked_is_never_signed(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    payee = rise.add_payee("a@example.com")

    def inflate(payload: dict[str, Any]) -> None:
        entry = payload["typed_data"]["data"][0]
        entry["amount"] = str(int(entry["amount"]) * 100)

    rise.alter_typed_data = inflate
    with pytest.raises(PermanentProviderError, match="not signed"):
        await provider.send_payment(_pay(payee.riseid))
    assert paths.execute not in rise.requests and rise.transactions == {}

    def redirect(payload: dict[str, Any]) -> None:
        payload["typed_data"]["data"][0]["recipient"] = "0x" + "66" * 20

    rise.alter_typed_data = redirect
    with pytest.raises(PermanentProviderError, match="not signed"):
        await provider.send_payment(_pay(payee.riseid, key="po_2/send"))

    def other_chain(payload: dict[str, Any]) -> None:
        payload["domain"]["chainId"] = 1

    rise.alter_typed_data = other_chain
    with pytest.raises(PermanentProviderError, match="not signed"):
        await provider.send_payment(_pay(payee.riseid, key="po_3/send"))

    def expired(payload: dict[str, Any]) -> None:
        payload["typed_data"]["expires"] = "1700000000"

    rise.alter_typed_data = expired
    with pytest.raises(PermanentProviderError, match="expired"):
        await provider.send_payment(_pay(payee.riseid, key="po_4/send"))
    assert paths.execute not in rise.requests


async def test_an_unknown_payee_in_a_batch_fails_that_transaction_only(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    stranger = "0x" + "22" * 20
    batch = BatchPayoutRequest("pb_1/send", (_pay(payee.riseid), _pay(stranger, key="po_2/send")))
    ok, unknown = (await provider.send_batch_payment(batch)).results
    assert ok.status == "pending"
    assert unknown.status == "failed" and unknown.error_code == "invalid_recipient"


async def test_a_batch_refused_before_anything_was_sent_raises(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    payee = rise.add_payee("a@example.com")
    rise.fail(*paths.create, 400, code="TEAM_ROLE_SETTINGS_NOT_FOUND")
    with pytest.raises(PermanentProviderError):
        await provider.send_batch_payment(BatchPayoutRequest("pb_1/send", (_pay(payee.riseid),)))


async def test_a_batch_rise_cannot_take_at_all_raises(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    batch = BatchPayoutRequest("pb_1/send", (_pay(payee.riseid),))
    await rise.stop()
    with pytest.raises(TransientProviderError):
        await provider.send_batch_payment(batch)


async def test_a_payout_that_is_not_positive_is_refused_before_sending(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    for cents in (0, -100):
        with pytest.raises(PermanentProviderError, match="positive"):
            await provider.send_payment(_pay(payee.riseid, cents=cents))
    assert rise.requests == []
