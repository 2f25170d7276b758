"""Helpers for pay-in tests: a merchant, and a payment created through the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kassa.providers.mock.provider import _LEDGERS


@pytest.fixture(autouse=True)
def _fresh_mock_ledgers() -> Iterator[None]:
    for ledger in _LEDGERS.values():
        ledger.clear()
    yield


async def pay(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    value: str = "100.00",
    currency: str = "USD",
    token: str = "pm_card_visa",
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {
        "amount": {"value": value, "currency": currency},
        "payment_method": token,
        **extra,
    }
    return await client.post("/v1/payments", json=body, headers=auth)
