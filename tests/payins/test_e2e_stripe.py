"""A Stripe payment end to end through kassa's API (the official SDK against the Stripe
stand-in) and kassa's inbound webhooks, on SQLite and PostgreSQL: 3-D Secure through
requires_action completed by the customer and learnt from Stripe's signed webhook, a failed
challenge with its decline code, and a dispute becoming /v1/disputes and ``dispute.created``.
(Card success, declines, partial capture and refund through the API:
tests/providers/stripe/test_through_the_api.py.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.api.app import create_app
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.payins import confirm
from kassa.payins.jobs import provider_event_job
from kassa.payins.provider_events.handler import JOB
from kassa.providers.registry import ProviderRegistry
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.fakes.stripe import TEST_KEY, FakeStripe
from tests.fakes.stripe.server import WEBHOOK_SECRET
from tests.openapi_conformance import api_transport
from tests.payins.conftest import pay
from tests.webhooks.inbound.signing import stripe_header

RETURN = "https://shop.example/orders/7/return"


@dataclass
class Stack:
    app: FastAPI
    api: httpx.AsyncClient
    stripe: FakeStripe
    worker: Worker
    sent: int = 0  # how much of the stand-in's event log kassa has been sent

    @property
    def providers(self) -> ProviderRegistry:
        from kassa.api.routes._payins_common import providers

        class _Request:
            app = self.app

        return providers(_Request())  # type: ignore[arg-type]

    async def webhooks(self) -> list[str]:
        """Every event Stripe made since the last call, POSTed signed as Stripe signs them;
        then kassa's worker applies them. Their types, in order."""
        fresh = self.stripe.state.event_log[self.sent :]
        self.sent += len(fresh)
        for event in fresh:
            body = json.dumps(event).encode()
            answer = await self.api.post(
                "/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": stripe_header(body, WEBHOOK_SECRET)},
            )
            assert answer.status_code == 200, answer.text
        await self.worker.run_due()
        return [str(e["type"]) for e in fresh]

    async def get(self, m: Merchant, path: str) -> dict[str, Any]:
        answer = await self.api.get(path, headers=m.auth)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    async def events(self, m: Merchant, object_id: str) -> list[str]:
        listed = await self.get(m, "/v1/events?limit=100")
        return [e["type"] for e in reversed(listed["data"]) if e["data"]["id"] == object_id]


@pytest.fixture
async def stack(db: Backend, tmp_path: Path) -> AsyncIterator[Stack]:
    async with FakeStripe() as fake:
        settings = db.settings(
            tmp_path,
            payment_provider="stripe",
            stripe_secret_key=TEST_KEY,
            stripe_webhook_secret=WEBHOOK_SECRET,
            stripe_api_base=fake.base_url,
            provider_retry_attempts=1,
        )
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as api,
        ):
            jobs = JobRegistry()
            made = Stack(app, api, fake, Worker(db.sessions, registry=jobs, schedules={}))

            async def complete_action(sessions: Any, payment_id: str, trigger: str) -> object:
                return await confirm.complete_customer_action(
                    sessions, made.providers, payment_id, trigger=trigger
                )

            jobs.register(JOB, provider_event_job(complete_action=complete_action))
            yield made


async def _waiting(s: Stack, m: Merchant, token: str, **extra: Any) -> dict[str, Any]:
    created = await pay(s.api, m.auth, value="75.00", token=token, **extra)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    assert body["status"] == "requires_action" and body["provider"] == "stripe"
    assert body["provider_payment_id"].startswith("pi_")
    return body


async def test_three_d_secure_completes_by_webhook_then_a_dispute(
    stack: Stack, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    body = await _waiting(stack, acme, "pm_card_threeDSecure2Required", return_url=RETURN)
    pid, intent = body["id"], body["provider_payment_id"]
    # With a return_url Stripe gives its authentication page to send the customer to.
    assert body["next_action"] == {
        "type": "redirect_to_url",
        "redirect_to_url": {"url": f"{stack.stripe.base_url}/_3ds/{intent}"},
    }
    assert "payment_intent.requires_action" in await stack.webhooks()
    assert (await stack.get(acme, f"/v1/payments/{pid}"))["status"] == "requires_action"

    await stack.stripe.complete_three_d_secure(intent)  # the customer passes the challenge
    assert "payment_intent.succeeded" in await stack.webhooks()
    paid = await stack.get(acme, f"/v1/payments/{pid}")
    assert paid["status"] == "succeeded" and paid["next_action"] is None
    assert paid["amount_captured"] == {"value": "75.00", "currency": "USD"}
    assert (await stack.events(acme, pid)).count("payment.succeeded") == 1
    late = await stack.api.post(f"/v1/payments/{pid}/confirm", headers=acme.auth)
    assert late.status_code == 200 and late.json()["status"] == "succeeded"

    opened = await stack.stripe.open_dispute(intent, reason="fraudulent")
    assert await stack.webhooks() == ["charge.dispute.created"]
    (dispute,) = (await stack.get(acme, "/v1/disputes"))["data"]
    assert dispute["payment_id"] == pid and dispute["provider_dispute_id"] == opened["id"]
    assert dispute["status"] == "needs_response" and dispute["reason"] == "fraudulent"
    assert dispute["amount"] == {"value": "75.00", "currency": "USD"}
    assert await stack.events(acme, dispute["id"]) == ["dispute.created"]


async def test_a_failed_challenge_fails_with_stripes_decline_code(
    stack: Stack, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    body = await _waiting(stack, acme, "pm_card_threeDSecure2Required")
    # Without a return_url the merchant's page finishes it with Stripe.js: the client secret.
    assert body["next_action"]["type"] == "use_sdk"
    secret = body["next_action"]["use_sdk"]["client_secret"]
    assert secret.startswith(body["provider_payment_id"] + "_secret_")
    await stack.stripe.complete_three_d_secure(body["provider_payment_id"], success=False)
    answer = await stack.api.post(f"/v1/payments/{body['id']}/confirm", headers=acme.auth)
    assert answer.status_code == 402, answer.text
    # Stripe's own code for a failed challenge (last_payment_error.code).
    assert answer.json()["decline_code"] == "payment_intent_authentication_failure"
    payment = await stack.get(acme, f"/v1/payments/{body['id']}")
    assert payment["status"] == "failed"
    assert payment["decline_code"] == "payment_intent_authentication_failure"
    await stack.webhooks()  # Stripe's own word on it changes nothing more
    again = await stack.get(acme, f"/v1/payments/{body['id']}")
    assert again["status"] == "failed" and again["decline_code"] == payment["decline_code"]
    assert (await stack.events(acme, body["id"]))[-1] == "payment.failed"
