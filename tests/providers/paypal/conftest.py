"""The PayPal adapter against a fresh PayPal stand-in on loopback, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kassa.core.money import Money
from kassa.providers.base import ChargeRequest, ChargeResult, ConfirmRequest
from kassa.providers.paypal import PayPalClient, PayPalProvider
from tests.fakes.paypal import FakePayPal

TIMEOUT = 0.5  # the adapter's HTTP timeout here; the stand-in's hangs last longer


@pytest.fixture
async def fake() -> AsyncIterator[FakePayPal]:
    async with FakePayPal() as stand_in:
        yield stand_in
        assert stand_in.violations == []  # every exchange as PayPal documents it


@pytest.fixture
async def paypal(fake: FakePayPal) -> AsyncIterator[PayPalProvider]:
    client = PayPalClient(
        provider="paypal",
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        api_base=fake.url,
        timeout=TIMEOUT,
    )
    yield PayPalProvider("paypal", client)
    await client.aclose()


def charge(key: str, minor: int, *, capture: bool = True, token: str = "paypal") -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=f"{key}/authorize",
        amount=Money(minor, "USD"),
        payment_method=token,
        capture=capture,
        return_url="https://shop.example/return",
    )


async def approved(
    paypal: PayPalProvider, fake: FakePayPal, request: ChargeRequest
) -> ChargeResult:
    """The charge created, approved by the buyer and confirmed (captured or authorized)."""
    waiting = await paypal.authorize(request)
    await fake.approve(waiting.provider_payment_id)
    key = request.idempotency_key.replace("/authorize", "/confirm")
    return await paypal.confirm(
        ConfirmRequest(key, waiting.provider_payment_id, request.amount, capture=request.capture)
    )
