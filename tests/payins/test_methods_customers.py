"""Customers, payment methods, and the refusal of anything that looks like a card number."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from kassa.core.audit import AuditEntry
from kassa.payins.guard import contains_card_number, luhn_valid
from tests.conftest import Backend
from tests.factories import merchant
from tests.payins.conftest import pay

CARD = "4242 4242 4242 4242"


async def test_customers_create_retrieve_update_list(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    created = await client.post(
        "/v1/customers",
        json={"email": "ada@example.com", "name": "Ada", "metadata": {"tier": "gold"}},
        headers=acme.auth,
    )
    assert created.status_code == 201
    customer = created.json()
    assert customer["id"].startswith("cus_") and customer["object"] == "customer"
    updated = await client.post(
        f"/v1/customers/{customer['id']}",
        json={"name": "Ada L.", "metadata": {"tier": "", "since": "2024"}},
        headers=acme.auth,
    )
    assert updated.json()["name"] == "Ada L."
    assert updated.json()["email"] == "ada@example.com"
    assert updated.json()["metadata"] == {"since": "2024"}
    fetched = await client.get(f"/v1/customers/{customer['id']}", headers=acme.auth)
    assert fetched.json() == updated.json()
    await client.post("/v1/customers", json={"email": "bob@example.com"}, headers=acme.auth)
    listed = (await client.get("/v1/customers?limit=1", headers=acme.auth)).json()
    assert listed["has_more"] is True and len(listed["data"]) == 1
    by_email = (await client.get("/v1/customers?email=ada@example.com", headers=acme.auth)).json()
    assert [c["id"] for c in by_email["data"]] == [customer["id"]]
    bad = await client.post("/v1/customers", json={"email": "nope"}, headers=acme.auth)
    assert bad.status_code == 400 and bad.json()["param"] == "email"


async def test_payment_methods_lifecycle_and_use(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    customer = (await client.post("/v1/customers", json={}, headers=acme.auth)).json()
    created = await client.post(
        "/v1/payment_methods",
        json={"token": "pm_card_mastercard", "customer_id": customer["id"], "type": "card"},
        headers=acme.auth,
    )
    assert created.status_code == 201
    method = created.json()
    assert method["id"].startswith("pm_") and method["type"] == "card"
    assert method["card"] == {
        "brand": "mastercard",
        "last4": "4444",
        "exp_month": 12,
        "exp_year": 2034,
    }
    assert "token" not in method and "pm_card_mastercard" not in created.text
    for token, kind in [("pm_usBankAccount", "bank_account"), ("pm_wallet_paypal", "wallet")]:
        other = await client.post(
            "/v1/payment_methods",
            json={"token": token, "customer_id": customer["id"]},
            headers=acme.auth,
        )
        assert other.json()["type"] == kind
    mine = (
        await client.get(f"/v1/payment_methods?customer_id={customer['id']}", headers=acme.auth)
    ).json()
    assert len(mine["data"]) == 3

    updated = await client.put(
        f"/v1/payment_methods/{method['id']}",
        json={"metadata": {"label": "work"}},
        headers=acme.auth,
    )
    assert updated.json()["metadata"] == {"label": "work"}

    payment = await client.post(
        "/v1/payments",
        json={
            "amount": {"value": "12.00", "currency": "USD"},
            "payment_method_id": method["id"],
            "customer_id": customer["id"],
        },
        headers=acme.auth,
    )
    assert payment.status_code == 201
    assert payment.json()["payment_method"]["id"] == method["id"]
    assert payment.json()["payment_method"]["card"]["last4"] == "4444"
    implied = await client.post(  # a saved method pays for its own customer
        "/v1/payments",
        json={"amount": {"value": "2.00", "currency": "USD"}, "payment_method_id": method["id"]},
        headers=acme.auth,
    )
    assert implied.status_code == 201 and implied.json()["customer_id"] == customer["id"]
    someone_else = (await client.post("/v1/customers", json={}, headers=acme.auth)).json()
    mismatch = await client.post(
        "/v1/payments",
        json={
            "amount": {"value": "3.00", "currency": "USD"},
            "payment_method_id": method["id"],
            "customer_id": someone_else["id"],
        },
        headers=acme.auth,
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["code"] == "payment_method_customer_mismatch"
    filtered = (
        await client.get(f"/v1/payments?customer_id={customer['id']}", headers=acme.auth)
    ).json()
    assert [p["id"] for p in filtered["data"]] == [implied.json()["id"], payment.json()["id"]]

    deleted = await client.delete(f"/v1/payment_methods/{method['id']}", headers=acme.auth)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    after = (
        await client.get(f"/v1/payment_methods?customer_id={customer['id']}", headers=acme.auth)
    ).json()
    assert method["id"] not in [m["id"] for m in after["data"]]
    unusable = await client.post(
        "/v1/payments",
        json={"amount": {"value": "1.00", "currency": "USD"}, "payment_method_id": method["id"]},
        headers=acme.auth,
    )
    assert unusable.status_code == 400 and unusable.json()["code"] == "payment_method_unusable"


async def test_bad_tokens_and_cross_account_ids(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions, "Acme")
    globex = await merchant(db.sessions, "Globex")
    bad = await client.post("/v1/payment_methods", json={"token": "tok_nope"}, headers=acme.auth)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_payment_method"
    wrong_type = await client.post(
        "/v1/payment_methods", json={"token": "pm_card_visa", "type": "wallet"}, headers=acme.auth
    )
    assert wrong_type.status_code == 400 and wrong_type.json()["param"] == "type"
    method = (
        await client.post("/v1/payment_methods", json={"token": "pm_card_visa"}, headers=acme.auth)
    ).json()
    customer = (await client.post("/v1/customers", json={}, headers=acme.auth)).json()
    for verb, path in [
        ("GET", f"/v1/payment_methods/{method['id']}"),
        ("DELETE", f"/v1/payment_methods/{method['id']}"),
        ("GET", f"/v1/customers/{customer['id']}"),
    ]:
        response = await client.request(verb, path, headers=globex.auth)
        assert response.status_code == 404, path
    stolen = await client.post(
        "/v1/payments",
        json={"amount": {"value": "1.00", "currency": "USD"}, "payment_method_id": method["id"]},
        headers=globex.auth,
    )
    assert stolen.status_code == 404 and stolen.json()["param"] == "payment_method_id"
    foreign_customer = await client.post(
        "/v1/payment_methods",
        json={"token": "pm_card_visa", "customer_id": customer["id"]},
        headers=globex.auth,
    )
    assert foreign_customer.status_code == 404


def test_luhn() -> None:
    assert luhn_valid("4242424242424242")
    assert not luhn_valid("4242424242424241")
    assert contains_card_number("card 4000-0566-5566-5556 here")
    assert contains_card_number("378282246310005")  # amex, 15 digits
    assert not contains_card_number("order 4242424242424241")
    assert not contains_card_number("2024-01-17T10:00:00Z")
    assert not contains_card_number("123456789012")  # 12 digits


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/payments", {"payment_method": CARD}, "payment_method"),
        ("/v1/payments", {"metadata": {"note": f"card {CARD} thanks"}}, "metadata.note"),
        ("/v1/payments", {"description": "4242-4242-4242-4242"}, "description"),
        ("/v1/payment_methods", {"token": "4242424242424242"}, "token"),
        ("/v1/customers", {"metadata": {"x": "5555555555554444"}}, "metadata.x"),
        ("/v1/customers", {"name": 4242424242424242}, "name"),
    ],
)
async def test_card_numbers_are_refused_not_stored_not_logged(
    client: httpx.AsyncClient,
    db: Backend,
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: dict[str, Any],
    param: str,
) -> None:
    acme = await merchant(db.sessions)
    if path == "/v1/payments":
        body = {
            "amount": {"value": "1.00", "currency": "USD"},
            "payment_method": "pm_card_visa",
        } | body
    caplog.set_level(logging.DEBUG)
    response = await client.post(path, json=body, headers=acme.auth)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "card_number_refused"
    assert problem["param"] == param
    digits = "4242424242424242", "5555555555554444"
    assert not any(d in response.text.replace(" ", "").replace("-", "") for d in digits)
    logged = caplog.text.replace(" ", "").replace("-", "")
    assert not any(d in logged for d in digits)
    async with db.sessions() as s:
        for table in ("payments", "payment_methods", "customers", "events", "audit_log"):
            rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()
            dump = repr(rows).replace(" ", "").replace("-", "")
            assert not any(d in dump for d in digits), table
        audits = (await s.scalars(select(AuditEntry.action))).all()
        assert not any(a.startswith(("payment", "customer")) for a in audits)


async def test_test_card_numbers_in_stripe_docs_style_tokens_are_fine(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(client, acme.auth, metadata={"order": "A-1024", "ts": "20240117"})
    assert response.status_code == 201


async def test_a_deleted_payment_method_says_so_and_refuses_changes(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    customer = (await client.post("/v1/customers", json={}, headers=acme.auth)).json()
    method = (
        await client.post(
            "/v1/payment_methods",
            json={"token": "pm_card_visa", "customer_id": customer["id"], "metadata": {"a": "1"}},
            headers=acme.auth,
        )
    ).json()
    assert method["detached_at"] is None and method["customer_id"] == customer["id"]

    deleted = await client.delete(f"/v1/payment_methods/{method['id']}", headers=acme.auth)
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] is True and deleted.json()["detached_at"] is not None
    shown = (await client.get(f"/v1/payment_methods/{method['id']}", headers=acme.auth)).json()
    # as Stripe shows a detached method: no customer any more; and when it was detached
    assert shown["detached_at"] == deleted.json()["detached_at"]
    assert shown["customer_id"] is None

    for verb in ("POST", "PUT"):
        refused = await client.request(
            verb,
            f"/v1/payment_methods/{method['id']}",
            json={"metadata": {"a": "2"}},
            headers=acme.auth,
        )
        assert refused.status_code == 409, verb
        assert refused.json()["code"] == "payment_method_detached"
    after = (await client.get(f"/v1/payment_methods/{method['id']}", headers=acme.auth)).json()
    assert after == shown  # nothing changed, not even updated_at

    again = await client.delete(f"/v1/payment_methods/{method['id']}", headers=acme.auth)
    assert again.status_code == 200 and again.json()["detached_at"] == shown["detached_at"]
    async with db.sessions() as s:
        actions = (
            await s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == method["id"]))
        ).all()
    assert sorted(actions) == ["payment_method.create", "payment_method.delete"]
