"""The Stripe adapter against the Stripe stand-in (tests/fakes/stripe), as the contract sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kassa.providers.base import ChargeResult
from kassa.providers.stripe import StripeProvider
from tests.fakes.stripe import TEST_KEY, FakeStripe
from tests.providers.contract.subject import Subject


@asynccontextmanager
async def subject() -> AsyncIterator[Subject]:
    async with FakeStripe() as fake:
        provider = StripeProvider("stripe_contract", secret_key=TEST_KEY, api_base=fake.base_url)

        async def act(waiting: ChargeResult) -> None:  # the customer passes 3-D Secure
            await fake.complete_three_d_secure(waiting.provider_payment_id)

        try:
            yield Subject(
                provider=provider,
                card="pm_card_visa",
                declined="pm_card_chargeDeclinedInsufficientFunds",
                decline_code="insufficient_funds",
                action_token="pm_card_threeDSecure2Required",
                act=act,
            )
        finally:
            await provider.aclose()
