"""A Stripe stand-in on loopback per test, and the adapter pointed at it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import pytest

from kassa.core.money import Money
from kassa.providers.base import ChargeRequest
from kassa.providers.stripe import StripeProvider
from tests.fakes.stripe import TEST_KEY, FakeStripe


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


@pytest.fixture
async def stripe_provider(fake: FakeStripe) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider("stripe", secret_key=TEST_KEY, api_base=fake.base_url, timeout=10.0)
    yield provider
    await provider.aclose()


@pytest.fixture
async def impatient(fake: FakeStripe) -> AsyncIterator[StripeProvider]:
    """The adapter with a short timeout, for the stand-in's held answers (``hang_seconds``)."""
    fake.hang_seconds = 1.5
    provider = StripeProvider("stripe", secret_key=TEST_KEY, api_base=fake.base_url, timeout=0.5)
    yield provider
    await provider.aclose()


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until ``check()`` holds (the stand-in works on while the test waits)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def key(verb: str = "authorize") -> str:
    return f"pay_{secrets.token_hex(8)}/{verb}"


def charge(
    token: str = "pm_card_visa",
    *,
    minor: int = 2000,
    currency: str = "USD",
    capture: bool = True,
    return_url: str | None = None,
    idempotency_key: str | None = None,
) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=idempotency_key or key(),
        amount=Money(minor, currency),
        payment_method=token,
        capture=capture,
        return_url=return_url,
    )
