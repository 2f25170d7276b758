"""Helpers for pay-in tests: a merchant, and a payment created through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from kassa.providers.mock import MockLedger, ledger_file


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


def mock_ledger(var_dir: Path, name: str = "mock") -> MockLedger:
    """The ledger the install's mock provider ``name`` keeps in ``var_dir`` (what the app's
    mock, the worker's and the CLI's all read and write), opened as another process would."""
    return MockLedger(name, ledger_file(var_dir))
