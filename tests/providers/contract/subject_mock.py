"""The mock provider, as the contract sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kassa.providers.base import ChargeResult
from kassa.providers.mock import MockProvider
from tests.providers.contract.subject import Subject


@asynccontextmanager
async def subject() -> AsyncIterator[Subject]:
    provider = MockProvider("mock_contract")

    async def act(waiting: ChargeResult) -> None:
        provider.complete_action(waiting.provider_payment_id)  # the customer passes 3-D Secure

    yield Subject(
        provider=provider,
        card="pm_card_visa",
        declined="pm_card_insufficientFunds",
        action_token="pm_card_threeDSecure",
        act=act,
    )
