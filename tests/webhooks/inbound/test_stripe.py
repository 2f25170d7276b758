"""Stripe webhooks at POST /webhooks/stripe: signed ones stored once, the rest refused."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from kassa.webhooks.inbound.errors import INVALID_SIGNATURE
from kassa.webhooks.inbound.signatures import stripe as stripe_signature
from kassa.webhooks.inbound.store import JOB_ARG
from tests.webhooks.inbound.conftest import Inbound
from tests.webhooks.inbound.signing import (
    STRIPE_OLD_SECRET,
    STRIPE_SECRET,
    stripe_event,
    stripe_header,
)


async def post(inbound: Inbound, body: bytes, header: str | None) -> tuple[int, dict[str, object]]:
    headers = {b"content-type": b"application/json"}
    if header is not None:  # latin-1, as a header's bytes are read
        headers[b"stripe-signature"] = header.encode("latin-1")
    response = await inbound.http.post("/webhooks/stripe", content=body, headers=headers)
    return response.status_code, response.json()


async def test_a_signed_event_is_stored_once_with_its_processing_job(inbound: Inbound) -> None:
    body = stripe_event("evt_signed_1")
    status, answer = await post(inbound, body, stripe_header(body))
    assert status == 200 and answer["received"] is True and answer["duplicate"] is False
    [row] = await inbound.rows()
    assert (row.provider, row.credentials_id, row.event_id) == ("stripe", "default", "evt_signed_1")
    assert row.event_type == "payment_intent.succeeded" and row.status == "received"
    assert row.payload == json.loads(body) and row.id == answer["id"]
    assert row.account_id is None and row.livemode is False
    [job] = await inbound.jobs()
    assert job.args == {JOB_ARG: row.id} and job.status == "queued"


async def test_the_previous_secret_of_a_rotation_still_verifies(inbound: Inbound) -> None:
    body = stripe_event("evt_rotated")
    status, _ = await post(inbound, body, stripe_header(body, STRIPE_OLD_SECRET))
    assert status == 200 and await inbound.count() == 1


async def test_a_redelivery_is_answered_2xx_and_stores_nothing(inbound: Inbound) -> None:
    body = stripe_event("evt_twice")
    first = await post(inbound, body, stripe_header(body))
    again = await post(inbound, body, stripe_header(body))  # Stripe signs each delivery anew
    assert first[0] == again[0] == 200
    assert again[1] == {"received": True, "duplicate": True}
    assert await inbound.count() == 1 and len(await inbound.jobs()) == 1


@pytest.mark.parametrize(
    "case",
    [
        "tampered",
        "stale",
        "future",
        "wrong_secret",
        "unsigned",
        "no_v1",
        "garbage_header",
        "superscript_time",
        "huge_time",
    ],
)
async def test_refused_deliveries_store_nothing(inbound: Inbound, case: str) -> None:
    body = stripe_event("evt_refused")
    header: str | None = stripe_header(body)
    if case == "tampered":
        body = body.replace(b"1000", b"9000")
    elif case == "stale":
        header = stripe_header(body, at=time.time() - 301)
    elif case == "future":
        header = stripe_header(body, at=time.time() + 301)
    elif case == "wrong_secret":
        header = stripe_header(body, "whsec_someone_else")
    elif case == "unsigned":
        header = None
    elif case == "no_v1":
        header = f"t={int(time.time())},v0=abc"
    elif case == "superscript_time":  # a digit to str.isdigit(), not to int(): never a 500
        header = "t=\xb2," + stripe_header(body).split(",", 1)[1]
    elif case == "huge_time":  # past int()'s 4300 digits: never a 500
        header = "t=" + "9" * 5000 + "," + stripe_header(body).split(",", 1)[1]
    else:
        header = "this is not a signature header"
    status, problem = await post(inbound, body, header)
    assert status == 400 and problem["code"] == INVALID_SIGNATURE.code
    assert problem["type"] == "urn:kassa:error:invalid_signature" and problem["request_id"]
    for secret in (STRIPE_SECRET, STRIPE_OLD_SECRET):
        assert secret not in json.dumps(problem)
    assert await inbound.count() == 0 and await inbound.jobs() == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"id": "evt_1"}', b'{"type": "x"}'])
async def test_a_signed_body_that_is_no_event_is_refused(inbound: Inbound, body: bytes) -> None:
    status, problem = await post(inbound, body, stripe_header(body))
    assert status == 400 and problem["code"] == "invalid_webhook_payload"
    assert await inbound.count() == 0


async def test_a_body_over_the_limit_is_413(inbound: Inbound) -> None:
    body = b'{"id": "evt_big", "type": "x", "pad": "' + b"a" * 1_100_000 + b'"}'
    status, problem = await post(inbound, body, stripe_header(body))
    assert status == 413 and problem["code"] == "payload_too_large"
    assert await inbound.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/square",
        "/webhooks/stripe/pcr_nope",
        "/webhooks/stripe/a/b",
        "/webhooks/stripe/pcr_01M8TGHF8JSKAX7BST7Z03RXD1%00",  # never a database outage
        "/webhooks/stripe/pcr_01M8TGHF8JSKAX7BST7Z03RXD1",  # well formed, no such credentials
    ],
)
async def test_unknown_webhook_urls_are_404(inbound: Inbound, path: str) -> None:
    body = stripe_event()
    response = await inbound.http.post(
        path, content=body, headers={"Stripe-Signature": stripe_header(body)}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "webhook_receiver_unknown"


def test_verification_agrees_with_the_stripe_sdk() -> None:
    """The SDK's own construct_event accepts what kassa accepts and refuses what it refuses."""
    body = stripe_event("evt_sdk")
    header = stripe_header(body)
    ours = stripe_signature.verify(body, header, [STRIPE_SECRET], now=time.time())
    theirs = stripe.Webhook.construct_event(body.decode(), header, STRIPE_SECRET, tolerance=300)
    assert ours.event_id == theirs.id == "evt_sdk" and ours.event_type == theirs.type
    stale = stripe_header(body, at=time.time() - 400)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), stale, STRIPE_SECRET, tolerance=300)
    with pytest.raises(Exception, match="300 seconds"):
        stripe_signature.verify(body, stale, [STRIPE_SECRET], now=time.time())
    # A header the SDK signs itself (its test helper's scheme) verifies here.
    t = int(time.time())
    sdk_signature = stripe.WebhookSignature._compute_signature(
        f"{t}.{body.decode()}", STRIPE_SECRET
    )
    header = f"t={t},v1=deadbeef,v1={sdk_signature}"
    assert stripe_signature.verify(body, header, [STRIPE_SECRET], now=t).event_id == "evt_sdk"
