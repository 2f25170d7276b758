"""A PayPal payment end to end through kassa's API, the PayPal stand-in and kassa's inbound
webhooks, on SQLite and PostgreSQL: the buyer approves at PayPal's approve link (driven as a
browser does); kassa learns of it from the merchant's confirm after the return URL, from the
signed CHECKOUT.ORDER.APPROVED webhook, or from reconciliation, and captures; a partial
refund, an authorization captured in part, declines with PayPal's own codes, a dispute, and
the merchant's events. Credentials: the install's (KASSA_PAYPAL_*) and an account's own."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.api.app import create_app
from kassa.core import clock
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.payins import confirm
from kassa.payins.jobs import provider_event_job
from kassa.payins.provider_events.handler import JOB
from kassa.payins.reconcile import reconcile
from kassa.providers.registry import ProviderRegistry
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.fakes.paypal import FakePayPal
from tests.fakes.paypal.server import DECLINING_BUYER
from tests.fakes.paypal.webhooks import encode, transmission
from tests.fakes.paypal.webhooks import event as paypal_event
from tests.openapi_conformance import api_transport
from tests.payins.conftest import pay

RETURN = "https://shop.example/orders/1042/return"


@dataclass
class Stack:
    """kassa's app (API and inbound webhooks), a worker running its provider-event jobs, and
    the PayPal stand-in it talks to."""

    db: Backend
    app: FastAPI
    api: httpx.AsyncClient
    paypal: FakePayPal
    worker: Worker
    delivered: set[str]

    @property
    def providers(self) -> ProviderRegistry:
        from kassa.api.routes._payins_common import providers

        class _Request:
            app = self.app

        return providers(_Request())  # type: ignore[arg-type]

    async def approve_as_browser(
        self, url: str, email: str | None = None, action: str = "approve"
    ) -> httpx.URL:
        """The buyer opens the approve link, logs in and pays (or cancels); PayPal redirects
        the browser back: the URL it lands on (not followed: it is the shop's page)."""
        async with httpx.AsyncClient() as browser:
            page = await browser.get(url)
            assert page.status_code == 200 and "<form" in page.text
            token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
            form = {"token": token, "email": email or "", "action": action}
            sent = await browser.post(page.url.join("/web/checkoutnow"), data=form)
        assert sent.status_code == 302, sent.text
        return httpx.URL(sent.headers["Location"])

    async def webhooks(self, event_type: str, path: str = "/webhooks/paypal") -> int:
        """Every event of ``event_type`` PayPal has emitted and kassa not yet received, sent
        signed as PayPal signs them; then kassa's worker runs what they queued."""
        sent = 0
        for event_id, body in list(self.paypal.outbox.events.items()):
            if event_id in self.delivered or json.loads(body)["event_type"] != event_type:
                continue
            await self.post_signed(body, event_id, path)
            sent += 1
        await self.worker.run_due()
        return sent

    async def post_signed(self, body: bytes, event_id: str, path: str) -> None:
        self.paypal.outbox.events[event_id] = body
        signed = transmission(
            body, event_id, webhook_id=self.paypal.webhook_id, cert_url=self.paypal.cert_url
        )
        answer = await self.api.post(path, content=body, headers=signed.headers)
        assert answer.status_code == 200, answer.text
        self.delivered.add(event_id)

    async def events(self, m: Merchant, object_id: str) -> list[str]:
        listed = await self.api.get("/v1/events", headers=m.auth, params={"limit": 100})
        assert listed.status_code == 200, listed.text
        found = [e for e in listed.json()["data"] if e["data"]["id"] == object_id]
        return [e["type"] for e in reversed(found)]  # newest first in the API


def _settings(db: Backend, tmp: Path, fake: FakePayPal, *, defaults: bool) -> Any:
    credentials: dict[str, Any] = {}
    if defaults:
        credentials = {
            "paypal_client_id": fake.client_id,
            "paypal_client_secret": fake.client_secret,
            "paypal_webhook_id": fake.webhook_id,
            "paypal_api_base": fake.url,
        }
    return db.settings(
        tmp,
        payment_provider="mock",
        providers_enabled="paypal",
        paypal_cert_hosts=fake.url,  # the stand-in serves PayPal's signing certificate
        webhook_allow_private=True,  # an account's api_base on loopback (the stand-in)
        provider_retry_attempts=1,
        **credentials,
    )


async def _stack(db: Backend, tmp: Path, *, defaults: bool) -> AsyncIterator[Stack]:
    async with FakePayPal() as fake:
        app = create_app(_settings(db, tmp, fake, defaults=defaults))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as api,
        ):
            jobs = JobRegistry()
            stack = Stack(
                db, app, api, fake, Worker(db.sessions, registry=jobs, schedules={}), set()
            )

            async def complete_action(sessions: Any, payment_id: str, trigger: str) -> object:
                # What the composition root registers, with this app's providers.
                return await confirm.complete_customer_action(
                    sessions, stack.providers, payment_id, trigger=trigger
                )

            jobs.register(JOB, provider_event_job(complete_action=complete_action))
            yield stack
        assert fake.violations == []  # every exchange as PayPal documents it


@pytest.fixture
async def stack(db: Backend, tmp_path: Path) -> AsyncIterator[Stack]:
    async for made in _stack(db, tmp_path, defaults=True):
        yield made


async def _waiting(s: Stack, m: Merchant, token: str = "paypal", **extra: Any) -> dict[str, Any]:
    created = await pay(s.api, m.auth, token=token, provider="paypal", return_url=RETURN, **extra)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    assert body["status"] == "requires_action" and body["provider"] == "paypal"
    action = body["next_action"]
    assert action["type"] == "redirect_to_url"
    assert action["redirect_to_url"]["url"].startswith(s.paypal.url + "/web/checkoutnow?token=")
    assert body["provider_payment_id"] in action["redirect_to_url"]["url"]
    return body


async def _confirm(s: Stack, m: Merchant, pid: str) -> httpx.Response:
    return await s.api.post(f"/v1/payments/{pid}/confirm", headers=m.auth)


async def _get(s: Stack, m: Merchant, path: str) -> dict[str, Any]:
    answer = await s.api.get(path, headers=m.auth)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_return_url_then_confirm_then_a_partial_refund(stack: Stack, db: Backend) -> None:
    acme = await merchant(db.sessions)
    body = await _waiting(stack, acme, value="40.00")
    pid, order_id = body["id"], body["provider_payment_id"]
    landed = await stack.approve_as_browser(body["next_action"]["redirect_to_url"]["url"])
    assert str(landed).startswith(RETURN + "?")
    assert landed.params["token"] == order_id and landed.params["PayerID"]

    done = await _confirm(stack, acme, pid)  # the shop's return page asks kassa to confirm
    assert done.status_code == 200, done.text
    paid = done.json()
    assert paid["status"] == "succeeded" and paid["next_action"] is None
    assert paid["amount_captured"] == {"value": "40.00", "currency": "USD"}
    assert paid["payment_method"]["type"] == "wallet"
    assert len(stack.paypal.ledger.orders[order_id].capture_ids) == 1

    refund = await stack.api.post(
        f"/v1/payments/{pid}/refund",
        json={"amount": {"value": "15.00", "currency": "USD"}},
        headers=acme.auth,
    )
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded", refund.text
    # PayPal's webhooks about what kassa did itself change nothing more.
    assert await stack.webhooks("CHECKOUT.ORDER.APPROVED") == 1
    assert await stack.webhooks("PAYMENT.CAPTURE.COMPLETED") == 1
    assert await stack.webhooks("PAYMENT.CAPTURE.REFUNDED") == 1
    after = await _get(stack, acme, f"/v1/payments/{pid}")
    assert after["status"] == "partially_refunded"
    assert after["amount_refunded"] == {"value": "15.00", "currency": "USD"}
    assert len(stack.paypal.ledger.orders[order_id].capture_ids) == 1
    assert [r["amount"]["value"] for r in stack.paypal.ledger.refunds.values()] == ["15.00"]
    refunds = await _get(stack, acme, f"/v1/refunds?payment_id={pid}")
    assert [r["amount"]["value"] for r in refunds["data"]] == ["15.00"]
    # The merchant's events: one of each, the webhooks after kassa's own calls added none.
    events = await stack.events(acme, pid)
    # created and processing commit together, at one time: the API may list either first
    assert set(events[:2]) == {"payment.created", "payment.processing"}
    assert events[2:] == [
        "payment.requires_action",
        "payment.processing",
        "payment.succeeded",
        "payment.refunded",
    ]


async def test_a_buyer_who_cancels_at_paypal_leaves_it_waiting(stack: Stack, db: Backend) -> None:
    acme = await merchant(db.sessions)
    body = await _waiting(stack, acme)
    url = body["next_action"]["redirect_to_url"]["url"]
    landed = await stack.approve_as_browser(url, action="cancel")
    assert str(landed).startswith(RETURN + "?") and "PayerID" not in landed.params
    back = await _confirm(stack, acme, body["id"])  # the return page confirms: not approved
    assert back.status_code == 200 and back.json()["status"] == "requires_action"
    assert back.json()["next_action"] == body["next_action"]  # the buyer may try again
    assert stack.paypal.ledger.orders[body["provider_payment_id"]].capture_ids == []


async def test_the_approved_webhook_captures_without_the_merchant(
    stack: Stack, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    body = await _waiting(stack, acme, value="12.34")
    pid, order_id = body["id"], body["provider_payment_id"]
    await stack.approve_as_browser(body["next_action"]["redirect_to_url"]["url"])
    assert (await _get(stack, acme, f"/v1/payments/{pid}"))["status"] == "requires_action"

    assert await stack.webhooks("CHECKOUT.ORDER.APPROVED") == 1
    paid = await _get(stack, acme, f"/v1/payments/{pid}")
    assert paid["status"] == "succeeded", paid
    assert paid["amount_captured"]["value"] == "12.34"
    assert stack.paypal.ledger.orders[order_id].status == "COMPLETED"
    # The capture's own webhook, and the merchant's late confirm: still one capture.
    assert await stack.webhooks("PAYMENT.CAPTURE.COMPLETED") == 1
    late = await _confirm(stack, acme, pid)
    assert late.status_code == 200 and late.json()["status"] == "succeeded"
    assert len(stack.paypal.ledger.orders[order_id].capture_ids) == 1
    assert (await stack.events(acme, pid)).count("payment.succeeded") == 1


async def test_reconciliation_captures_an_approval_nobody_reported(
    stack: Stack, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    body = await _waiting(stack, acme, value="9.99")
    pid = body["id"]
    await stack.approve_as_browser(body["next_action"]["redirect_to_url"]["url"])
    # The buyer closed the tab before the return page; the webhook was lost.
    clock.install(clock.FrozenClock(clock.now() + timedelta(minutes=16)))
    report = await reconcile(
        db.sessions,
        stack.providers,
        older_than=timedelta(minutes=2),
        action_confirm_after=timedelta(minutes=15),
        action_expires_after=timedelta(hours=24),
    )
    assert report.settled == [pid]
    paid = await _get(stack, acme, f"/v1/payments/{pid}")
    assert paid["status"] == "succeeded" and paid["amount_captured"]["value"] == "9.99"


async def test_declines_keep_paypals_codes(stack: Stack, db: Backend) -> None:
    acme = await merchant(db.sessions)
    # The buyer's funding is refused when kassa captures the approved order.
    body = await _waiting(stack, acme, token=f"paypal:{DECLINING_BUYER}")
    await stack.approve_as_browser(body["next_action"]["redirect_to_url"]["url"])
    refused = await _confirm(stack, acme, body["id"])
    assert refused.status_code == 402, refused.text
    problem = refused.json()
    assert problem["code"] == "card_declined"
    assert problem["decline_code"] == "paypal:UNPROCESSABLE_ENTITY/INSTRUMENT_DECLINED"
    failed = await _get(stack, acme, f"/v1/payments/{body['id']}")
    assert failed["status"] == "failed" and failed["decline_code"] == problem["decline_code"]
    assert (await stack.events(acme, body["id"]))[-1] == "payment.failed"

    # A capture PayPal makes and the processor declines (5120: insufficient funds).
    other = await _waiting(stack, acme)
    await stack.approve_as_browser(other["next_action"]["redirect_to_url"]["url"])
    stack.paypal.declined_captures = 1
    denied = await _confirm(stack, acme, other["id"])
    assert denied.status_code == 402, denied.text
    assert denied.json()["decline_code"] == "paypal:DECLINED/5120"
    # PayPal's PAYMENT.CAPTURE.DENIED arrives after: the same code, nothing changes.
    assert await stack.webhooks("PAYMENT.CAPTURE.DENIED") == 1
    stored = await _get(stack, acme, f"/v1/payments/{other['id']}")
    assert stored["status"] == "failed" and stored["decline_code"] == "paypal:DECLINED/5120"
    assert stored["amount_captured"]["value"] == "0.00"


def _dispute(capture: dict[str, Any], dispute_id: str, value: str) -> dict[str, Any]:
    """A PayPal dispute resource (Disputes v1), as CUSTOMER.DISPUTE.CREATED carries it."""
    return {
        "dispute_id": dispute_id,
        "create_time": "2026-12-02T09:00:00.000Z",
        "update_time": "2026-12-02T09:00:00.000Z",
        "disputed_transactions": [
            {
                "seller_transaction_id": capture["id"],
                "invoice_number": capture.get("invoice_id"),
                "custom": capture.get("custom_id"),
            }
        ],
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": "OPEN",
        "dispute_amount": {"currency_code": "USD", "value": value},
        "seller_response_due_date": "2026-12-22T09:00:00.000Z",
        "dispute_life_cycle_stage": "INQUIRY",
        "dispute_channel": "INTERNAL",
    }


async def test_an_accounts_own_credentials_authorize_capture_part_and_a_dispute(
    db: Backend, tmp_path: Path
) -> None:
    async for s in _stack(db, tmp_path, defaults=False):  # no KASSA_PAYPAL_* at all
        acme = await merchant(db.sessions)
        refused = await pay(s.api, acme.auth, token="paypal", provider="paypal")
        assert refused.status_code == 400 and refused.json()["code"] == "provider_not_configured"
        stored = await s.api.post(
            "/v1/provider_credentials",
            headers=acme.auth,
            json={
                "kind": "paypal",
                "fields": {
                    "client_id": s.paypal.client_id,
                    "client_secret": s.paypal.client_secret,
                    "webhook_id": s.paypal.webhook_id,
                    "environment": "sandbox",
                    "api_base": s.paypal.url,
                },
            },
        )
        assert stored.status_code == 201, stored.text
        pcr = stored.json()["id"]
        assert stored.json()["webhook_url"].endswith(f"/webhooks/paypal/{pcr}")

        body = await _waiting(s, acme, value="50.00", capture=False)
        pid, order_id = body["id"], body["provider_payment_id"]
        await s.approve_as_browser(body["next_action"]["redirect_to_url"]["url"])
        assert await s.webhooks("CHECKOUT.ORDER.APPROVED", f"/webhooks/paypal/{pcr}") == 1
        held = await _get(s, acme, f"/v1/payments/{pid}")
        assert held["status"] == "requires_capture", held
        assert held["amount_capturable"]["value"] == "50.00"
        assert s.paypal.ledger.orders[order_id].capture_ids == []

        captured = await s.api.post(
            f"/v1/payments/{pid}/capture",
            json={"amount_to_capture": {"value": "30.00", "currency": "USD"}},
            headers=acme.auth,
        )
        assert captured.status_code == 200, captured.text
        assert captured.json()["status"] == "succeeded"
        assert captured.json()["amount_captured"]["value"] == "30.00"
        (capture_id,) = s.paypal.ledger.orders[order_id].capture_ids
        capture = s.paypal.ledger.captures[capture_id]
        assert capture["amount"]["value"] == "30.00"

        dispute_body = _dispute(capture, "PP-D-4242", "30.00")
        made = paypal_event("CUSTOMER.DISPUTE.CREATED", dispute_body, base=s.paypal.url)
        await s.post_signed(encode(made), made["id"], f"/webhooks/paypal/{pcr}")
        await s.worker.run_due()
        listed = await _get(s, acme, "/v1/disputes")
        (dispute,) = listed["data"]
        assert dispute["payment_id"] == pid and dispute["provider"] == "paypal"
        assert dispute["provider_dispute_id"] == "PP-D-4242"
        assert dispute["status"] == "needs_response"
        assert dispute["amount"] == {"value": "30.00", "currency": "USD"}
        assert dispute["reason"] == "merchandise_or_service_not_received"
        assert dispute["evidence_due_by"] is not None
        assert "dispute.created" in await s.events(acme, dispute["id"])
        other = await merchant(db.sessions, "Other")
        hidden = await s.api.get(f"/v1/disputes/{dispute['id']}", headers=other.auth)
        assert hidden.status_code == 404
        # The inbound event is listed for the account, processed.
        inbound = await _get(s, acme, "/v1/inbound_events")
        kinds = {(e["type"], e["status"]) for e in inbound["data"]}
        assert ("CUSTOMER.DISPUTE.CREATED", "processed") in kinds, kinds
