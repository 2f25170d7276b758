"""Which outcomes an Idempotency-Key remembers: only those of requests that changed something.

A refusal that changed nothing (bad amount, missing field, unknown object, a state that forbids
the action) leaves the key free, so the corrected request can be sent with the same key; what
changed something — a payment tried at the provider, an object created — is remembered and
replayed, a decline included. The table in docs/payments.md says the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kassa.payins.models import Customer, Payment, PaymentMethod, Refund
from kassa.providers.base import DeclinedError
from kassa.providers.mock.provider import MockProvider
from kassa.webhooks.outbound.models import WebhookEndpoint
from tests.conftest import Backend
from tests.factories import Merchant, merchant


def _payment(value: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {
        "amount": {"value": value, "currency": "USD"},
        "payment_method": "pm_card_visa",
        **extra,
    }


async def _count(db: Backend, model: type[Any]) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _the_corrected_request_runs_and_is_then_remembered(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, body: dict[str, Any] | None
) -> httpx.Response:
    fixed = await client.post(url, json=body, headers=headers)
    assert fixed.status_code in (200, 201, 202), fixed.text
    assert "idempotent-replayed" not in fixed.headers
    again = await client.post(url, json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == fixed.content
    return fixed


# The four refusals of the trial report, then a decline.


async def test_a_payment_refused_for_its_amount_leaves_the_key_free(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-1"}
    refused = await client.post("/v1/payments", json=_payment("ten"), headers=headers)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_amount"
    assert await _count(db, Payment) == 0
    await _the_corrected_request_runs_and_is_then_remembered(
        client, headers, "/v1/payments", _payment("10.00")
    )
    assert await _count(db, Payment) == 1


async def test_a_payment_refused_for_a_missing_field_leaves_the_key_free(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-2"}
    body = {"amount": {"value": "10.00", "currency": "USD"}}
    refused = await client.post("/v1/payments", json=body, headers=headers)
    assert refused.status_code == 400 and refused.json()["code"] == "parameter_missing"
    assert await _count(db, Payment) == 0
    await _the_corrected_request_runs_and_is_then_remembered(
        client, headers, "/v1/payments", _payment()
    )
    assert await _count(db, Payment) == 1


async def test_a_payment_for_an_unknown_customer_leaves_the_key_free(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-3"}
    unknown = "cus_01JD2X8Q0Y3V7K2M4N6P8R0T2W"
    refused = await client.post("/v1/payments", json=_payment(customer_id=unknown), headers=headers)
    assert refused.status_code == 404 and refused.json()["code"] == "resource_missing"
    customer = await client.post("/v1/customers", json={"name": "Ada"}, headers=acme.auth)
    assert customer.status_code == 201
    fixed = await _the_corrected_request_runs_and_is_then_remembered(
        client, headers, "/v1/payments", _payment(customer_id=customer.json()["id"])
    )
    assert fixed.json()["customer_id"] == customer.json()["id"]
    assert await _count(db, Payment) == 1


async def test_a_refund_above_what_is_left_leaves_the_key_free(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    paid = await client.post("/v1/payments", json=_payment("10.00"), headers=acme.auth)
    url = f"/v1/payments/{paid.json()['id']}/refund"
    headers = {**acme.auth, "Idempotency-Key": "refund-1"}
    too_much = {"amount": {"value": "20.00", "currency": "USD"}}
    refused = await client.post(url, json=too_much, headers=headers)
    assert refused.status_code == 400 and refused.json()["code"] == "amount_too_large"
    assert await _count(db, Refund) == 0
    fixed = await _the_corrected_request_runs_and_is_then_remembered(
        client, headers, url, {"amount": {"value": "4.00", "currency": "USD"}}
    )
    assert fixed.json()["status"] == "succeeded"
    assert await _count(db, Refund) == 1


async def test_a_decline_is_remembered_a_payment_was_tried(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-4"}
    body = _payment(payment_method="pm_card_chargeDeclined")
    declined = await client.post("/v1/payments", json=body, headers=headers)
    assert declined.status_code == 402 and declined.json()["code"] == "card_declined"
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert again.status_code == 402
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == declined.content
    other_card = await client.post("/v1/payments", json=_payment(), headers=headers)
    assert other_card.status_code == 400 and other_card.json()["code"] == "idempotency_error"
    async with db.sessions() as session:
        [payment] = (await session.scalars(select(Payment))).all()
    assert payment.id == declined.json()["payment_id"] and payment.status == "failed"


async def test_a_refusal_by_the_provider_is_remembered_unlike_one_by_validation(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """Both are 400s; the provider's came after a payment was tried, so it is remembered."""
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-5"}
    body = _payment(payment_method="pm_card_invalidPayee")
    refused = await client.post("/v1/payments", json=body, headers=headers)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_payee"
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == refused.content
    assert await _count(db, Payment) == 1


async def test_a_provider_outage_after_the_provider_was_tried_is_remembered(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """503 after the provider was asked: a failed payment exists, so the key remembers it
    (a new attempt is a new request, with a new key), as the table in payments.md says."""
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-6"}
    body = _payment(payment_method="pm_card_rateLimit")
    unavailable = await client.post("/v1/payments", json=body, headers=headers)
    assert unavailable.status_code == 503, unavailable.text
    assert unavailable.json()["payment"]["status"] == "failed"
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == unavailable.content
    assert await _count(db, Payment) == 1


@pytest.mark.parametrize("operation", ["capture", "cancel"])
async def test_a_capture_or_cancel_the_provider_refused_is_remembered(
    client: httpx.AsyncClient, db: Backend, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    """The provider was asked to act: its refusal is remembered, and asked only once."""
    calls: list[str] = []

    async def refuse(self: MockProvider, request: Any) -> Any:
        calls.append(request.idempotency_key)
        raise DeclinedError("The issuer refused.", provider=self.name)

    acme = await merchant(db.sessions)
    payment_id = await _authorized(client, acme)
    monkeypatch.setattr(MockProvider, operation, refuse)
    headers = {**acme.auth, "Idempotency-Key": f"{operation}-1"}
    url = f"/v1/payments/{payment_id}/{operation}"
    refused = await client.post(url, headers=headers)
    assert refused.status_code == 402, refused.text
    again = await client.post(url, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == refused.content
    assert calls == [f"{payment_id}/{operation}"]
    shown = await client.get(f"/v1/payments/{payment_id}", headers=acme.auth)
    assert shown.json()["status"] == "requires_capture"


# Every other POST route: a refusal that changed nothing, then the corrected request with the
# same key (often another path, which a remembered refusal would answer idempotency_error).

Setup = Callable[[httpx.AsyncClient, Merchant], Awaitable[dict[str, str]]]


async def _authorized(client: httpx.AsyncClient, m: Merchant) -> str:
    paid = await client.post("/v1/payments", json=_payment(capture=False), headers=m.auth)
    assert paid.json()["status"] == "requires_capture", paid.text
    return str(paid.json()["id"])


async def _captured(client: httpx.AsyncClient, m: Merchant) -> str:
    paid = await client.post("/v1/payments", json=_payment(), headers=m.auth)
    assert paid.json()["status"] == "succeeded", paid.text
    return str(paid.json()["id"])


async def _two_payments(client: httpx.AsyncClient, m: Merchant) -> dict[str, str]:
    return {"captured": await _captured(client, m), "authorized": await _authorized(client, m)}


async def _a_key(client: httpx.AsyncClient, m: Merchant) -> dict[str, str]:
    created = await client.post("/v1/api_keys", json={"name": "old"}, headers=m.auth)
    return {"key": str(created.json()["id"])}


async def _a_customer(client: httpx.AsyncClient, m: Merchant) -> dict[str, str]:
    created = await client.post("/v1/customers", json={"name": "Ada"}, headers=m.auth)
    return {"customer": str(created.json()["id"])}


async def _nothing(client: httpx.AsyncClient, m: Merchant) -> dict[str, str]:
    return {}


# (name, setup, refused (url, body, status, code), corrected (url, body), model whose rows count)
ROUTES: list[tuple[str, Setup, tuple[str, Any, int, str], tuple[str, Any], type[Any] | None]] = [
    (
        "capture a payment that is not capturable",
        _two_payments,
        ("/v1/payments/{captured}/capture", None, 409, "payment_not_capturable"),
        ("/v1/payments/{authorized}/capture", None),
        None,
    ),
    (
        "cancel a payment that was captured",
        _two_payments,
        ("/v1/payments/{captured}/cancel", None, 409, "payment_not_cancelable"),
        ("/v1/payments/{authorized}/cancel", None),
        None,
    ),
    (
        "refund a payment that does not exist",
        _two_payments,
        ("/v1/payments/pay_01JD2X8Q0Y3V7K2M4N6P8R0T2W/refund", None, 404, "resource_missing"),
        ("/v1/payments/{captured}/refund", None),
        Refund,
    ),
    (
        "save a payment method from a token the provider refuses",
        _nothing,
        ("/v1/payment_methods", {"token": "pm_card_bogus"}, 400, None),
        ("/v1/payment_methods", {"token": "pm_card_visa"}),
        PaymentMethod,
    ),
    (
        "update a customer that does not exist",
        _a_customer,
        ("/v1/customers/cus_01JD2X8Q0Y3V7K2M4N6P8R0T2W", {"name": "Bo"}, 404, "resource_missing"),
        ("/v1/customers/{customer}", {"name": "Bo"}),
        None,
    ),
    (
        "rotate the secret of a webhook endpoint that does not exist",
        _nothing,
        ("/v1/webhook_endpoints/we_01JD2X8Q0Y3V7K2M4N6P8R0T2W/rotate_secret", None, 404, None),
        ("/v1/webhook_endpoints", {"url": "https://93.184.215.14/hook"}),
        WebhookEndpoint,
    ),
    (
        "revoke an API key that does not exist",
        _a_key,
        ("/v1/api_keys/key_01JD2X8Q0Y3V7K2M4N6P8R0T2W/revoke", None, 404, "resource_missing"),
        ("/v1/api_keys/{key}/revoke", None),
        None,
    ),
]


@pytest.mark.parametrize(("name", "setup", "refused", "corrected", "model"), ROUTES)
async def test_a_refusal_that_changed_nothing_leaves_the_key_free_on_every_route(
    client: httpx.AsyncClient,
    db: Backend,
    name: str,
    setup: Setup,
    refused: tuple[str, Any, int, str | None],
    corrected: tuple[str, Any],
    model: type[Any] | None,
) -> None:
    acme = await merchant(db.sessions)
    ids = await setup(client, acme)
    headers = {**acme.auth, "Idempotency-Key": "the-key"}
    url, body, status, code = refused
    before = await _count(db, model) if model else 0
    answer = await client.post(url.format(**ids), json=body, headers=headers)
    assert answer.status_code == status, answer.text
    if code:
        assert answer.json()["code"] == code
    if model:
        assert await _count(db, model) == before
    url, body = corrected
    await _the_corrected_request_runs_and_is_then_remembered(
        client, headers, url.format(**ids), body
    )
    if model:
        assert await _count(db, model) == before + 1


async def test_a_customer_created_with_a_key_is_remembered(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "cus-ada"}
    await _the_corrected_request_runs_and_is_then_remembered(
        client, headers, "/v1/customers", {"name": "Ada"}
    )
    assert await _count(db, Customer) == 1
