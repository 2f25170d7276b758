"""The Stripe stand-in checks what Stripe checks and answers as Stripe answers: API keys,
form encoding, idempotency, faults on demand, and webhooks signed like Stripe's, verified
here with the official SDK's own ``stripe.Webhook``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe
from aiohttp import web

from kassa.core.money import Money
from kassa.providers.base import ChargeRequest
from kassa.providers.stripe import StripeProvider
from tests.fakes.stripe import TEST_KEY, WEBHOOK_SECRET, FakeStripe
from tests.fakes.stripe.forms import parse_form

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
NEVER = {
    "automatic_payment_methods[enabled]": "true",
    "automatic_payment_methods[allow_redirects]": "never",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


@pytest.fixture
async def http(fake: FakeStripe) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        yield client


def test_forms_are_read_with_stripes_brackets() -> None:
    assert parse_form("a=1&metadata[k]=v&expand[0]=x&expand[1]=y&o[p][q]=r&l[]=s") == {
        "a": "1",
        "metadata": {"k": "v"},
        "expand": ["x", "y"],
        "o": {"p": {"q": "r"}},
        "l": ["s"],
    }


async def test_a_request_without_a_valid_key_is_401_in_stripes_shape(
    http: httpx.AsyncClient,
) -> None:
    missing = await http.get("/v1/payment_intents")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    wrong = await http.get(
        "/v1/payment_intents", headers={"Authorization": "Bearer sk_test_not_the_key_1234"}
    )
    assert wrong.status_code == 401
    message = wrong.json()["error"]["message"]
    assert message.startswith("Invalid API Key provided: sk_test_") and message.endswith("1234")
    assert "not_the_key" not in message
    basic = await http.get("/v1/payment_intents", auth=(TEST_KEY, ""))  # curl -u sk_...:
    assert basic.status_code == 200


async def test_an_unknown_api_version_is_refused(http: httpx.AsyncClient) -> None:
    bad = await http.get("/v1/payment_intents", headers={**AUTH, "Stripe-Version": "someday"})
    assert bad.status_code == 400 and "API version" in bad.json()["error"]["message"]
    named = await http.get(
        "/v1/payment_intents", headers={**AUTH, "Stripe-Version": "2026-10-28.endive"}
    )
    assert named.headers["Stripe-Version"] == "2026-10-28.endive"


async def test_the_same_key_replays_the_first_answer(http: httpx.AsyncClient) -> None:
    body = {
        "amount": "1000",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "confirm": "true",
        **NEVER,
    }
    headers = {**AUTH, "Idempotency-Key": "k-replay"}
    first = await http.post("/v1/payment_intents", data=body, headers=headers)
    again = await http.post("/v1/payment_intents", data=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    other = await http.post("/v1/payment_intents", data={**body, "amount": "1001"}, headers=headers)
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"


async def test_a_request_refused_in_validation_keeps_nothing(http: httpx.AsyncClient) -> None:
    headers = {**AUTH, "Idempotency-Key": "k-validation"}
    # 2023-08-16: confirming without return_url or allow_redirects=never is refused...
    refused = await http.post(
        "/v1/payment_intents",
        data={
            "amount": "1000",
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": "true",
        },
        headers=headers,
    )
    assert refused.status_code == 400 and "return_url" in refused.json()["error"]["message"]
    # ...and creates nothing, so the key may be used for the corrected request.
    fixed = await http.post(
        "/v1/payment_intents",
        data={
            "amount": "1000",
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": "true",
            **NEVER,
        },
        headers=headers,
    )
    assert fixed.status_code == 200 and fixed.json()["status"] == "succeeded"


async def test_a_decline_is_stored_with_its_key(http: httpx.AsyncClient, fake: FakeStripe) -> None:
    body = {
        "amount": "1000",
        "currency": "usd",
        "confirm": "true",
        "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
        **NEVER,
    }
    headers = {**AUTH, "Idempotency-Key": "k-decline"}
    first = await http.post("/v1/payment_intents", data=body, headers=headers)
    again = await http.post("/v1/payment_intents", data=body, headers=headers)
    assert first.status_code == again.status_code == 402
    error = first.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "insufficient_funds",
    )
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert again.json() == first.json() and len(fake.state.intents) == 1


async def test_faults_are_served_on_demand(http: httpx.AsyncClient, fake: FakeStripe) -> None:
    fake.fail_next(1, "500")
    fake.fail_next(1, "429")
    assert (await http.get("/v1/payment_intents", headers=AUTH)).status_code == 500
    assert (await http.get("/v1/payment_intents", headers=AUTH)).status_code == 429
    assert (await http.get("/v1/payment_intents", headers=AUTH)).status_code == 200
    control = await http.post("/_control/faults", data={"count": "1", "mode": "500"})
    assert control.status_code == 200
    assert (await http.get("/v1/payment_intents", headers=AUTH)).status_code == 500


# -- webhooks ---------------------------------------------------------------------------------
class Receiver:
    """A merchant's webhook endpoint: verifies with the SDK, records what it got and when."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.call_returned = False
        self.arrived_before_return: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.read()
        try:
            event = stripe.Webhook.construct_event(
                payload, request.headers["Stripe-Signature"], WEBHOOK_SECRET
            )
        except stripe.SignatureVerificationError:
            return web.Response(status=400)
        self.events.append(json.loads(payload))
        if not self.call_returned:
            self.arrived_before_return.append(event["type"])
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/stripe", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/webhooks/stripe"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver(fake: FakeStripe) -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    fake.add_webhook_endpoint(found.url)
    yield found
    await fake.webhooks.idle()
    await found.stop()


@pytest.fixture
async def provider(fake: FakeStripe) -> AsyncIterator[StripeProvider]:
    adapter = StripeProvider(secret_key=TEST_KEY, api_base=fake.base_url)
    yield adapter
    await adapter.aclose()


def _charge(token: str = "pm_card_visa") -> ChargeRequest:
    return ChargeRequest("pay_webhooks/authorize", Money(2000, "USD"), token)


async def test_webhooks_are_signed_like_stripes(
    fake: FakeStripe, receiver: Receiver, provider: StripeProvider
) -> None:
    paid = await provider.authorize(_charge())
    await fake.webhooks.idle()
    types = sorted(event["type"] for event in receiver.events)  # Stripe keeps no order
    assert types == ["charge.succeeded", "payment_intent.created", "payment_intent.succeeded"]
    (succeeded,) = (e for e in receiver.events if e["type"] == "payment_intent.succeeded")
    assert succeeded["data"]["object"]["id"] == paid.provider_payment_id
    assert succeeded["request"]["idempotency_key"] == "pay_webhooks/authorize"
    assert all(d.status == 200 for d in fake.webhooks.deliveries)


async def test_a_tampered_or_wrongly_keyed_webhook_fails_the_sdks_check() -> None:
    from tests.fakes.stripe import signature_header

    payload = b'{"id": "evt_1", "object": "event"}'
    header = signature_header(payload, WEBHOOK_SECRET)
    stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET)  # the genuine one passes
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload + b" ", header, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_another_secret")


async def test_a_webhook_can_arrive_before_the_call_that_caused_it_returns(
    fake: FakeStripe, receiver: Receiver, provider: StripeProvider
) -> None:
    fake.webhooks.early = 3
    await provider.authorize(_charge())
    receiver.call_returned = True
    assert "payment_intent.succeeded" in receiver.arrived_before_return


async def test_a_webhook_can_arrive_twice(
    fake: FakeStripe, receiver: Receiver, provider: StripeProvider
) -> None:
    fake.webhooks.twice = 1
    await provider.authorize(_charge())
    await fake.webhooks.idle()
    counts = Counter(event["id"] for event in receiver.events)
    assert sorted(counts.values()) == [1, 1, 2]  # one event came twice, the same id


async def test_three_d_secure_completion_is_told_by_webhook(
    fake: FakeStripe, receiver: Receiver, provider: StripeProvider, http: httpx.AsyncClient
) -> None:
    waiting = await provider.authorize(_charge("pm_card_threeDSecure2Required"))
    answer = await http.post(
        f"/_control/payment_intents/{waiting.provider_payment_id}/three_d_secure",
        data={"outcome": "complete"},
    )
    assert answer.status_code == 200
    await fake.webhooks.idle()
    types = {event["type"] for event in receiver.events}
    assert {"payment_intent.requires_action", "payment_intent.succeeded"} <= types


async def test_a_dispute_is_told_by_webhook(
    fake: FakeStripe, receiver: Receiver, provider: StripeProvider
) -> None:
    paid = await provider.authorize(_charge())
    opened = await fake.open_dispute(paid.provider_payment_id, "fraudulent")
    await fake.close_dispute(opened["id"], won=False)
    await fake.webhooks.idle()
    disputes = [e for e in receiver.events if e["type"].startswith("charge.dispute.")]
    assert sorted(e["type"] for e in disputes) == [
        "charge.dispute.closed",
        "charge.dispute.created",
    ]
    created = next(e for e in disputes if e["type"] == "charge.dispute.created")
    assert created["data"]["object"]["payment_intent"] == paid.provider_payment_id
    assert created["data"]["object"]["amount"] == 2000
