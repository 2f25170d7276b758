"""A Braintree payment end to end through kassa's API (the official SDK against the Braintree
stand-in) and kassa's inbound webhooks, on SQLite and PostgreSQL: a card charged with a nonce,
a processor decline, an authorization submitted for settlement in part then refunded in part,
a void, and a ``dispute_opened`` notification made with the SDK's own
``WebhookTesting.sample_notification`` becoming a dispute at /v1/disputes. Credentials: the
install's (KASSA_BRAINTREE_*) and an account's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import braintree
import httpx
import pytest
from fastapi import FastAPI

from kassa.api.app import create_app
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.payins.jobs import provider_event_job
from kassa.payins.provider_events.handler import JOB
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.fakes.braintree import FakeBraintree
from tests.openapi_conformance import api_transport
from tests.payins.conftest import pay

NONCE = "fake-valid-visa-nonce"
SUBMITTED = ("submitted_for_settlement", "settling", "settled")  # the sandbox settles soon
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Stack:
    db: Backend
    app: FastAPI
    api: httpx.AsyncClient
    braintree: FakeBraintree
    worker: Worker

    async def notify(self, kind: str, subject_id: str, path: str = "/webhooks/braintree") -> None:
        """A notification as Braintree's SDK makes it for these keys, POSTed as Braintree
        does; then kassa's worker applies it."""
        gateway = braintree.BraintreeGateway(
            braintree.Configuration(
                braintree.Environment.Sandbox,
                self.braintree.merchant_id,
                self.braintree.public_key,
                self.braintree.private_key,
            )
        )
        made = gateway.webhook_testing.sample_notification(kind, subject_id)
        form = {k: v.decode() if isinstance(v, bytes) else v for k, v in made.items()}
        answer = await self.api.post(path, content=urlencode(form).encode(), headers=FORM)
        assert answer.status_code == 200, answer.text
        await self.worker.run_due()

    async def get(self, m: Merchant, path: str) -> dict[str, Any]:
        answer = await self.api.get(path, headers=m.auth)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    async def events(self, m: Merchant, object_id: str) -> list[str]:
        listed = await self.get(m, "/v1/events?limit=100")
        return [e["type"] for e in reversed(listed["data"]) if e["data"]["id"] == object_id]


@pytest.fixture
def fake() -> Iterator[FakeBraintree]:
    with FakeBraintree().running() as running:
        yield running


async def _stack(
    db: Backend, tmp: Path, fake: FakeBraintree, *, defaults: bool
) -> AsyncIterator[Stack]:
    credentials: dict[str, Any] = {}
    if defaults:
        credentials = {
            "braintree_merchant_id": fake.merchant_id,
            "braintree_public_key": fake.public_key,
            "braintree_private_key": fake.private_key,
            "braintree_api_base": fake.url,
        }
    settings = db.settings(
        tmp,
        payment_provider="mock",
        providers_enabled="braintree",
        webhook_allow_private=True,  # an account's api_base on loopback (the stand-in)
        provider_retry_attempts=1,
        **credentials,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as api,
    ):
        jobs = JobRegistry()
        jobs.register(JOB, provider_event_job(complete_action=None))  # Braintree needs none
        yield Stack(db, app, api, fake, Worker(db.sessions, registry=jobs, schedules={}))


@pytest.fixture
async def stack(db: Backend, tmp_path: Path, fake: FakeBraintree) -> AsyncIterator[Stack]:
    async for made in _stack(db, tmp_path, fake, defaults=True):
        yield made


async def _dispute_of(s: Stack, m: Merchant, pid: str) -> dict[str, Any]:
    listed = await s.get(m, "/v1/disputes")
    (dispute,) = [d for d in listed["data"] if d["payment_id"] == pid]
    return dispute


async def test_a_nonce_is_charged_and_then_disputed(stack: Stack, db: Backend) -> None:
    acme = await merchant(db.sessions)
    answer = await pay(stack.api, acme.auth, value="100.00", token=NONCE, provider="braintree")
    assert answer.status_code == 201, answer.text
    paid = answer.json()
    assert paid["status"] == "succeeded" and paid["provider"] == "braintree"
    assert paid["amount_captured"] == {"value": "100.00", "currency": "USD"}
    assert paid["payment_method"]["card"]["last4"] == "1111"
    sale = stack.braintree.state.transactions[paid["provider_payment_id"]]
    assert sale.amount == Decimal("100.00") and sale.status in SUBMITTED
    assert (await stack.events(acme, paid["id"]))[-1] == "payment.succeeded"

    # The SDK's sample names the disputed transaction by the id given (100.00 USD).
    await stack.notify(braintree.WebhookNotification.Kind.DisputeOpened, sale.id)
    dispute = await _dispute_of(stack, acme, paid["id"])
    assert dispute["provider"] == "braintree" and dispute["provider_dispute_id"] == sale.id
    assert dispute["status"] == "needs_response"
    assert dispute["amount"] == {"value": "100.00", "currency": "USD"}
    assert dispute["evidence_due_by"] is not None
    assert await stack.events(acme, dispute["id"]) == ["dispute.created"]
    # A redelivery (the same notification again) makes no second dispute.
    await stack.notify(braintree.WebhookNotification.Kind.DisputeOpened, sale.id)
    assert len((await stack.get(acme, "/v1/disputes"))["data"]) == 1
    other = await merchant(db.sessions, "Other")
    hidden = await stack.api.get(f"/v1/disputes/{dispute['id']}", headers=other.auth)
    assert hidden.status_code == 404


async def test_a_processor_decline_keeps_its_code(stack: Stack, db: Backend) -> None:
    acme = await merchant(db.sessions)
    # Braintree's sandbox declines 2000.00-2999.99 with that processor response code:
    # 2001 is "Insufficient Funds", kassa's insufficient_funds.
    answer = await pay(stack.api, acme.auth, value="2001.00", token=NONCE, provider="braintree")
    assert answer.status_code == 402, answer.text
    problem = answer.json()
    assert problem["code"] == "card_declined" and problem["decline_code"] == "insufficient_funds"
    payment = await stack.get(acme, f"/v1/payments/{problem['payment_id']}")
    assert payment["status"] == "failed" and payment["decline_code"] == "insufficient_funds"
    sale = stack.braintree.state.transactions[payment["provider_payment_id"]]
    assert sale.status == "processor_declined"
    assert (await stack.events(acme, payment["id"]))[-1] == "payment.failed"


async def test_an_accounts_own_credentials_capture_part_refund_part_void_and_dispute(
    db: Backend, tmp_path: Path, fake: FakeBraintree
) -> None:
    async for s in _stack(db, tmp_path, fake, defaults=False):  # no KASSA_BRAINTREE_* at all
        acme = await merchant(db.sessions)
        refused = await pay(s.api, acme.auth, token=NONCE, provider="braintree")
        assert refused.status_code == 400 and refused.json()["code"] == "provider_not_configured"
        stored = await s.api.post(
            "/v1/provider_credentials",
            headers=acme.auth,
            json={
                "kind": "braintree",
                "fields": {
                    "merchant_id": fake.merchant_id,
                    "public_key": fake.public_key,
                    "private_key": fake.private_key,
                    "environment": "sandbox",
                    "api_base": fake.url,
                },
            },
        )
        assert stored.status_code == 201, stored.text
        pcr = stored.json()["id"]

        made = await pay(
            s.api, acme.auth, value="100.00", token=NONCE, provider="braintree", capture=False
        )
        assert made.status_code == 201, made.text
        held = made.json()
        assert held["status"] == "requires_capture"
        assert held["amount_capturable"]["value"] == "100.00"
        pid = held["id"]
        sale = fake.state.transactions[held["provider_payment_id"]]
        assert sale.status == "authorized"
        captured = await s.api.post(
            f"/v1/payments/{pid}/capture",
            json={"amount_to_capture": {"value": "60.00", "currency": "USD"}},
            headers=acme.auth,
        )
        assert captured.status_code == 200, captured.text
        assert captured.json()["status"] == "succeeded"
        assert captured.json()["amount_captured"]["value"] == "60.00"
        assert sale.status in SUBMITTED and sale.amount == Decimal("60.00")
        if sale.status != "settled":
            fake.settle(sale.id)  # a refund of part needs the sale settled, as at Braintree
        refund = await s.api.post(
            f"/v1/payments/{pid}/refund",
            json={"amount": {"value": "25.00", "currency": "USD"}},
            headers=acme.auth,
        )
        assert refund.status_code == 201 and refund.json()["status"] == "succeeded", refund.text
        after = await s.get(acme, f"/v1/payments/{pid}")
        assert after["status"] == "partially_refunded"
        assert after["amount_refunded"] == {"value": "25.00", "currency": "USD"}
        credits = [t for t in fake.state.transactions.values() if t.type == "credit"]
        assert [c.amount for c in credits] == [Decimal("25.00")]

        voided = await pay(
            s.api, acme.auth, value="40.00", token=NONCE, provider="braintree", capture=False
        )
        canceled = await s.api.post(f"/v1/payments/{voided.json()['id']}/cancel", headers=acme.auth)
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
        assert fake.state.transactions[voided.json()["provider_payment_id"]].status == "voided"

        # The account's webhook URL, signed with the account's keys.
        await s.notify(
            braintree.WebhookNotification.Kind.DisputeOpened, sale.id, f"/webhooks/braintree/{pcr}"
        )
        dispute = await _dispute_of(s, acme, pid)
        assert dispute["status"] == "needs_response" and dispute["provider_dispute_id"] == sale.id
