"""The PayPal adapter against the PayPal stand-in, as the contract sees it.

Every PayPal charge waits for the buyer's approval: ``act`` approves the order at the
stand-in's control API, playing the buyer. The declined token names the stand-in's buyer whose
funding PayPal declines at capture (``INSTRUMENT_DECLINED``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from kassa.providers.base import ChargeResult
from kassa.providers.credentials import Credentials
from kassa.providers.paypal import SPEC, PayPalProvider
from tests.fakes.paypal import DECLINING_BUYER, FakePayPal
from tests.providers.contract.subject import Subject


@asynccontextmanager
async def subject() -> AsyncIterator[Subject]:
    async with FakePayPal() as fake:
        credentials = Credentials(
            "default",
            "paypal",
            livemode=False,
            fields={
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "environment": "sandbox",
                "api_base": fake.url,
            },
        )
        provider = SPEC.build("paypal_contract", credentials)
        assert isinstance(provider, PayPalProvider)

        async def approve(result: ChargeResult) -> None:
            async with httpx.AsyncClient(base_url=fake.url) as control:
                answer = await control.post(
                    f"/_control/orders/{result.provider_payment_id}/approve", json={}
                )
                answer.raise_for_status()

        try:
            yield Subject(
                provider=provider,
                card="paypal",
                declined=f"paypal:{DECLINING_BUYER}",
                decline_code="paypal:UNPROCESSABLE_ENTITY/INSTRUMENT_DECLINED",
                action_token="paypal",
                act=approve,
                always_acts=True,
            )
        finally:
            await provider.client.aclose()
        assert fake.violations == [], fake.violations  # it spoke PayPal's documented protocol
