"""Payments through kassa's API with the Stripe adapter and the Stripe stand-in, on SQLite and
PostgreSQL: a card charged, a decline with Stripe's decline code, an authorization captured
in part and refunded in part, a saved payment method charged twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.api.app import create_app
from tests.conftest import Backend
from tests.factories import merchant
from tests.fakes.stripe import TEST_KEY, FakeStripe
from tests.openapi_conformance import api_transport
from tests.payins.conftest import pay


@pytest.fixture
async def api(db: Backend, tmp_path: Path, fake: FakeStripe) -> AsyncIterator[httpx.AsyncClient]:
    settings = db.settings(
        tmp_path,
        payment_provider="stripe",
        stripe_secret_key=TEST_KEY,
        stripe_api_base=fake.base_url,
        provider_retry_attempts=1,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as client,
    ):
        yield client


async def _get(client: httpx.AsyncClient, auth: dict[str, str], path: str) -> dict[str, Any]:
    answer = await client.get(path, headers=auth)
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


async def test_a_card_is_charged_at_stripe(
    api: httpx.AsyncClient, db: Backend, fake: FakeStripe
) -> None:
    acme = await merchant(db.sessions)
    answer = await pay(api, acme.auth, value="12.34")
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "succeeded" and body["provider"] == "stripe"
    assert body["payment_method"]["card"]["last4"] == "4242"
    (intent,) = fake.state.intents.values()
    assert intent["amount"] == 1234 and intent["status"] == "succeeded"
    assert intent["metadata"]["kassa_idempotency_key"] == f"{body['id']}/authorize"


async def test_a_decline_reaches_the_client_with_stripes_code(
    api: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    answer = await pay(api, acme.auth, token="pm_card_chargeDeclinedInsufficientFunds")
    assert answer.status_code == 402
    payment = await _get(api, acme.auth, f"/v1/payments/{answer.json()['payment_id']}")
    assert payment["status"] == "failed" and payment["decline_code"] == "insufficient_funds"


async def test_capture_part_then_refund_part(
    api: httpx.AsyncClient, db: Backend, fake: FakeStripe
) -> None:
    acme = await merchant(db.sessions)
    created = (await pay(api, acme.auth, value="50.00", capture=False)).json()
    assert created["status"] == "requires_capture"
    pid = created["id"]
    captured = await api.post(
        f"/v1/payments/{pid}/capture",
        json={"amount_to_capture": {"value": "30.00", "currency": "USD"}},
        headers=acme.auth,
    )
    assert captured.status_code == 200 and captured.json()["amount_captured"]["value"] == "30.00"
    refund = await api.post(
        f"/v1/payments/{pid}/refund",
        json={"amount": {"value": "10.00", "currency": "USD"}, "reason": "requested_by_customer"},
        headers=acme.auth,
    )
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded"
    assert (await _get(api, acme.auth, f"/v1/payments/{pid}"))["status"] == "partially_refunded"
    (charge,) = fake.state.charges.values()
    assert charge["amount_captured"] == 3000
    assert [r["amount"] for r in fake.state.refunds.values()] == [1000]


async def test_a_saved_card_is_charged_twice(
    api: httpx.AsyncClient, db: Backend, fake: FakeStripe
) -> None:
    acme = await merchant(db.sessions)
    customer = (await api.post("/v1/customers", json={}, headers=acme.auth)).json()
    saved = await api.post(
        "/v1/payment_methods",
        json={"token": "pm_card_visa", "customer_id": customer["id"]},
        headers=acme.auth,
    )
    assert saved.status_code == 201
    method = saved.json()
    assert method["card"]["last4"] == "4242"
    for _ in range(2):
        answer = await pay(api, acme.auth, payment_method_id=method["id"], payment_method=None)
        assert answer.status_code == 201, answer.text
    assert len(fake.state.customers) == 1
    assert {i["customer"] for i in fake.state.intents.values()} == set(fake.state.customers)
