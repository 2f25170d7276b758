"""The PayPal stand-in's own tests: it speaks PayPal's documented protocol (every exchange
checked against PayPal's OpenAPI documents), signs webhooks as PayPal does, and honours
PayPal-Request-Id and OAuth as PayPal does."""

from __future__ import annotations

import asyncio
import base64
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kassa.core.money import Money
from kassa.providers.base import (
    CaptureRequest,
    DeclinedError,
    RefundRequest,
    TransientProviderError,
)
from kassa.providers.paypal import PayPalClient, PayPalProvider
from tests.fakes.paypal import FakePayPal, Fault
from tests.fakes.paypal.openapi import check_event, check_exchange
from tests.providers.paypal.conftest import approved, charge


@dataclass
class Receiver:
    """A merchant's webhook endpoint on loopback: what arrived, in order."""

    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    def types(self) -> list[str]:
        return [json.loads(body)["event_type"] for _, body in self.got]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/paypal", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/webhooks/paypal"
    yield found
    await runner.cleanup()


@pytest.fixture
async def fake(receiver: Receiver) -> AsyncIterator[FakePayPal]:
    async with FakePayPal(webhook_url=receiver.url) as stand_in:
        yield stand_in
        assert stand_in.violations == []


@pytest.fixture
async def paypal(fake: FakePayPal) -> AsyncIterator[PayPalProvider]:
    client = PayPalClient(
        provider="paypal",
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        api_base=fake.url,
    )
    yield PayPalProvider("paypal", client)
    await client.aclose()


def verified(headers: dict[str, str], body: bytes, webhook_id: str, certificate: bytes) -> bool:
    """A receiver's check, written from PayPal's description (not the stand-in's code)."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    message = "|".join(
        [
            headers["PAYPAL-TRANSMISSION-ID"],
            headers["PAYPAL-TRANSMISSION-TIME"],
            webhook_id,
            str(crc),
        ]
    ).encode()
    key = x509.load_pem_x509_certificate(certificate).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(
            base64.b64decode(headers["PAYPAL-TRANSMISSION-SIG"]),
            message,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True


async def token(fake: FakePayPal) -> str:
    async with httpx.AsyncClient(base_url=fake.url) as http:
        answer = await http.post(
            "/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(fake.client_id, fake.client_secret),
        )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


async def test_webhooks_are_signed_as_paypal_signs_them(
    paypal: PayPalProvider, fake: FakePayPal, receiver: Receiver
) -> None:
    paid = await approved(paypal, fake, charge("pay_wh", 2000))
    await paypal.refund(RefundRequest("re_wh", paid.provider_payment_id, Money(500, "USD")))
    await fake.webhooks_idle()
    assert sorted(receiver.types()) == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.REFUNDED",
    ]
    async with httpx.AsyncClient() as http:
        headers, _ = receiver.got[0]
        assert headers["PAYPAL-AUTH-ALGO"] == "SHA256withRSA"
        certificate = (await http.get(headers["PAYPAL-CERT-URL"])).content
    for headers, body in receiver.got:
        assert verified(headers, body, fake.webhook_id, certificate)
        assert not verified(headers, body.replace(b'"1.0"', b'"1.1"'), fake.webhook_id, certificate)
        assert not verified(headers, body, "ANOTHERWEBHOOKID", certificate)
    completed = next(json.loads(b) for _, b in receiver.got if b"CAPTURE.COMPLETED" in b)
    assert completed["resource"]["supplementary_data"]["related_ids"]["order_id"] == (
        paid.provider_payment_id
    )
    assert completed["resource"]["custom_id"] == "pay_wh/authorize"


async def test_the_verify_webhook_signature_api(
    paypal: PayPalProvider, fake: FakePayPal, receiver: Receiver
) -> None:
    await approved(paypal, fake, charge("pay_whv", 1000))
    await fake.webhooks_idle()
    headers, body = receiver.got[0]
    request = {
        "auth_algo": headers["PAYPAL-AUTH-ALGO"],
        "cert_url": headers["PAYPAL-CERT-URL"],
        "transmission_id": headers["PAYPAL-TRANSMISSION-ID"],
        "transmission_sig": headers["PAYPAL-TRANSMISSION-SIG"],
        "transmission_time": headers["PAYPAL-TRANSMISSION-TIME"],
        "webhook_id": fake.webhook_id,
        "webhook_event": json.loads(body),
    }
    tampered = {**request, "webhook_event": {**json.loads(body), "summary": "changed"}}
    bearer = {"Authorization": f"Bearer {await token(fake)}"}
    async with httpx.AsyncClient(base_url=fake.url, headers=bearer) as http:
        path = "/v1/notifications/verify-webhook-signature"
        good = (await http.post(path, json=request)).json()
        bad = (await http.post(path, json=tampered)).json()
        wrong_id = (await http.post(path, json={**request, "webhook_id": "OTHER1"})).json()
    assert good == {"verification_status": "SUCCESS"}
    assert bad == wrong_id == {"verification_status": "FAILURE"}


async def test_a_webhook_can_arrive_before_the_api_call_returns(
    paypal: PayPalProvider, fake: FakePayPal, receiver: Receiver
) -> None:
    fake.early_webhooks = True
    held = await approved(paypal, fake, charge("pay_early", 3000, capture=False))
    await paypal.capture(
        CaptureRequest("pay_early/capture", held.provider_payment_id, Money(3000, "USD"))
    )
    # No waiting for deliveries: the capture's event was received before its answer left.
    assert receiver.types()[-1] == "PAYMENT.CAPTURE.COMPLETED"


async def test_a_webhook_sent_twice_and_resent(
    paypal: PayPalProvider, fake: FakePayPal, receiver: Receiver
) -> None:
    fake.webhook_copies = 2
    waiting = await paypal.authorize(charge("pay_twice", 1000))
    await fake.approve(waiting.provider_payment_id)
    await fake.webhooks_idle()
    ids = [json.loads(body)["id"] for _, body in receiver.got]
    assert len(ids) == 2 and ids[0] == ids[1]  # the same event, twice
    transmissions = {h["PAYPAL-TRANSMISSION-ID"] for h, _ in receiver.got}
    assert len(transmissions) == 2
    bearer = {"Authorization": f"Bearer {await token(fake)}"}
    async with httpx.AsyncClient(base_url=fake.url, headers=bearer) as http:
        answer = await http.post(f"/v1/notifications/webhooks-events/{ids[0]}/resend")
    assert answer.status_code == 202
    assert [json.loads(b)["id"] for _, b in receiver.got] == [ids[0]] * 3


async def test_a_denied_capture_sends_capture_denied(
    paypal: PayPalProvider, fake: FakePayPal, receiver: Receiver
) -> None:
    fake.fail(Fault(kind="capture_declined", path="/capture"))
    with pytest.raises(DeclinedError):
        await approved(paypal, fake, charge("pay_deny", 1000))
    await fake.webhooks_idle()
    assert receiver.types() == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.DENIED"]


async def test_the_same_request_id_answers_the_same_order(fake: FakePayPal) -> None:
    order = {
        "intent": "CAPTURE",
        "purchase_units": [{"amount": {"currency_code": "EUR", "value": "12.50"}}],
    }
    bearer = {"Authorization": f"Bearer {await token(fake)}", "PayPal-Request-Id": "rid-1"}
    async with httpx.AsyncClient(base_url=fake.url, headers=bearer) as http:
        first = await http.post("/v2/checkout/orders", json=order)
        again = await http.post("/v2/checkout/orders", json=order)
        other = await http.post(
            "/v2/checkout/orders", json=order, headers={"PayPal-Request-Id": "rid-2"}
        )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert first.json()["status"] == "CREATED"
    assert {link["rel"] for link in first.json()["links"]} == {"self", "approve"}
    assert len(fake.ledger.orders) == 2


async def test_a_request_id_still_in_progress_is_answered_409(fake: FakePayPal) -> None:
    order = {
        "intent": "CAPTURE",
        "purchase_units": [{"amount": {"currency_code": "USD", "value": "1.00"}}],
    }
    fake.fail(Fault(kind="hang", path="/v2/checkout/orders", seconds=0.3))
    headers = {"Authorization": f"Bearer {await token(fake)}", "PayPal-Request-Id": "rid-busy"}
    async with httpx.AsyncClient(base_url=fake.url, headers=headers) as http:
        slow = asyncio.create_task(http.post("/v2/checkout/orders", json=order))
        await asyncio.sleep(0.1)
        busy = await http.post("/v2/checkout/orders", json=order)  # the first is not done
        first = await slow
        after = await http.post("/v2/checkout/orders", json=order)
    assert busy.status_code == 409
    assert busy.json()["details"][0]["issue"] == "PREVIOUS_REQUEST_IN_PROGRESS"
    assert first.status_code == 201 and after.status_code == 200
    assert after.json()["id"] == first.json()["id"] and len(fake.ledger.orders) == 1


async def test_oauth_checks_credentials_and_expires_tokens(fake: FakePayPal) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as http:
        refused = await http.post(
            "/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(fake.client_id, "not-the-secret"),
        )
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        fake.token_ttl = 0
        stale = await token(fake)
        answer = await http.get(
            "/v2/checkout/orders/ABC123", headers={"Authorization": f"Bearer {stale}"}
        )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"


def test_the_documents_catch_a_drifted_answer() -> None:
    drifted = json.dumps({"id": "ABC", "status": "DONE", "links": []}).encode()
    found = check_exchange(
        "GET", "/v2/checkout/orders/ABC", {}, {"Authorization": "Bearer x"}, b"", 200, drifted
    )
    assert found and "DONE" in found[0]
    bad_request = json.dumps({"intent": "CAPTURE", "purchase_units": [{"amount": {"value": 12.5}}]})
    assert check_exchange(
        "POST",
        "/v2/checkout/orders",
        {},
        {"Authorization": "Bearer x", "Content-Type": "application/json"},
        bad_request.encode(),
        201,
        b"",
    )
    event = {"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type": "capture"}
    assert check_event({**event, "resource": {"status": "SETTLED"}})


async def test_the_control_api_drives_it_from_outside(
    paypal: PayPalProvider, fake: FakePayPal, receiver: Receiver
) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as control:
        configured = {"url": receiver.url, "webhook_id": "WEBHOOK2", "copies": 1}
        assert (await control.post("/_control/webhooks", json=configured)).status_code == 204
        fault = {"kind": "status", "path": "/v2/checkout/orders", "status": 503}
        assert (await control.post("/_control/faults", json=fault)).status_code == 204
        with pytest.raises(TransientProviderError):
            await paypal.authorize(charge("pay_ctl", 700))
        waiting = await paypal.authorize(charge("pay_ctl", 700))
        approve = f"/_control/orders/{waiting.provider_payment_id}/approve"
        assert (await control.post(approve, json={})).json()["status"] == "APPROVED"
    await fake.webhooks_idle()
    assert fake.webhook_id == "WEBHOOK2" and receiver.types() == ["CHECKOUT.ORDER.APPROVED"]


async def test_payments_are_read_back_as_documented(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    held = await approved(paypal, fake, charge("pay_read", 4000, capture=False))
    await paypal.capture(
        CaptureRequest("pay_read/capture", held.provider_payment_id, Money(4000, "USD"))
    )
    await paypal.refund(RefundRequest("re_read", held.provider_payment_id, Money(1000, "USD")))
    bearer = {"Authorization": f"Bearer {await token(fake)}"}
    async with httpx.AsyncClient(base_url=fake.url, headers=bearer) as http:
        for kind, table in (
            ("authorizations", fake.ledger.authorizations),
            ("captures", fake.ledger.captures),
            ("refunds", fake.ledger.refunds),
        ):
            (payment_id,) = table
            answer = await http.get(f"/v2/payments/{kind}/{payment_id}")
            assert answer.status_code == 200 and answer.json()["id"] == payment_id
        missing = await http.get("/v2/payments/captures/NOSUCHCAPTURE")
    assert missing.status_code == 404 and missing.json()["name"] == "RESOURCE_NOT_FOUND"
    # the fixture then requires every one of these exchanges to conform to the documents


async def test_a_signed_webhook_can_be_made_without_sending_it(fake: FakePayPal) -> None:
    order = fake.create_order(
        {
            "intent": "CAPTURE",
            "purchase_units": [{"amount": {"currency_code": "USD", "value": "3.00"}}],
        }
    ).body
    sent = fake.signed("CHECKOUT.ORDER.APPROVED", order)
    async with httpx.AsyncClient() as http:
        certificate = (await http.get(sent.headers["PAYPAL-CERT-URL"])).content
    assert verified(sent.headers, sent.body, fake.webhook_id, certificate)
    assert json.loads(sent.body)["resource"]["id"] == order["id"]
    assert fake.outbox.sent == []  # nothing was delivered
