"""Real deliveries verify with the Standard Webhooks and Svix libraries and the seed's scheme."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest
import standardwebhooks
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from kassa import __version__
from tests.factories import Merchant
from tests.webhooks.conftest import EVENT, Outbound, create_endpoint
from tests.webhooks.receiver import Receiver


def seed_verify(raw_body: bytes, signature: str, timestamp: str, secret: str) -> bool:
    """Seed 002's verifyWebhookSignature, in Python."""
    if abs(int(time.time()) - int(timestamp)) > 300:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature, expected)


async def test_a_delivery_verifies_with_every_scheme(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    endpoint = await create_endpoint(api, acme, receiver.url())
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["enabled_events"] == ["*"]
    event_id = await outbound.emit(acme, {"thing": "th_42", "amount": 1000})
    await outbound.drain()

    [got] = receiver.at("hook")
    body = json.loads(got.body)
    assert set(body) == {"id", "type", "created_at", "livemode", "data"}
    assert body["id"] == event_id and body["type"] == EVENT and body["livemode"] is False
    assert body["data"] == {"thing": "th_42", "amount": 1000}
    assert body["created_at"].endswith("Z")
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["webhook-id"] == event_id
    assert headers["user-agent"] == f"kassa/{__version__}"
    assert headers["content-type"] == "application/json"

    assert standardwebhooks.Webhook(secret).verify(got.body, headers)["id"] == event_id
    SvixWebhook(secret).verify(got.body, headers)
    assert seed_verify(
        got.body, headers["x-webhook-signature"], headers["x-webhook-timestamp"], secret
    )
    # a tampered body fails all of them
    tampered = got.body.replace(b"th_42", b"th_43")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        SvixWebhook(secret).verify(tampered, headers)
    assert not seed_verify(
        tampered, headers["x-webhook-signature"], headers["x-webhook-timestamp"], secret
    )


async def test_rotation_signs_with_old_and_new_secret_during_grace(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    endpoint = await create_endpoint(api, acme, receiver.url())
    old = endpoint["secret"]
    rotated = await api.post(
        f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", headers=acme.auth
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    await outbound.emit(acme)
    await outbound.drain()

    [got] = receiver.at("hook")
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(got.body, headers)
        SvixWebhook(secret).verify(got.body, headers)
    assert seed_verify(
        got.body, headers["x-webhook-signature"], headers["x-webhook-timestamp"], new
    )

    # rotating with no grace revokes every older secret at once (a leaked secret)
    again = await api.post(
        f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret",
        headers=acme.auth,
        json={"expires_in_seconds": 0},
    )
    newest = again.json()["secret"]
    await outbound.emit(acme)
    await outbound.drain()
    last = receiver.at("hook")[-1]
    headers = {k.lower(): v for k, v in last.headers.items()}
    standardwebhooks.Webhook(newest).verify(last.body, headers)
    assert len(headers["webhook-signature"].split(" ")) == 1
    for revoked in (old, new):
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(revoked).verify(last.body, headers)


async def test_secrets_are_stored_encrypted_and_shown_only_on_create(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    from sqlalchemy import select

    from kassa.webhooks.outbound.models import WebhookEndpoint

    endpoint = await create_endpoint(api, acme, receiver.url())
    async with outbound.db.sessions() as session:
        stored = await session.scalar(select(WebhookEndpoint.secret_enc))
    assert stored and endpoint["secret"] not in stored and "whsec_" not in stored
    shown = await api.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=acme.auth)
    assert shown.json()["secret"] is None
    listed = await api.get("/v1/webhook_endpoints", headers=acme.auth)
    assert endpoint["secret"] not in listed.text
