"""Webhooks of an account's own credentials, and /v1/inbound_events: each account sees and
reprocesses only its own events."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from kassa.accounts.api_keys import create_api_key
from kassa.core.db import transaction
from kassa.core.ids import new_id
from kassa.providers.credentials import Credentials
from kassa.webhooks.inbound.models import InboundEvent
from kassa.webhooks.inbound.store import JOB_ARG
from tests.factories import Merchant, merchant
from tests.webhooks.inbound.conftest import Inbound
from tests.webhooks.inbound.signing import stripe_event, stripe_header

# The receiver refuses a URL whose last part is not a well-formed pcr_ id.
PCR_A, PCR_B, PCR_PP = (new_id("pcr") for _ in range(3))


@pytest.fixture
async def two(inbound: Inbound) -> tuple[Merchant, Merchant]:
    a = await merchant(inbound.db.sessions, "A")
    b = await merchant(inbound.db.sessions, "B")
    stored = {
        PCR_A: Credentials(PCR_A, "stripe", False, {"webhook_secret": "whsec_a"}, a.account_id),
        PCR_B: Credentials(PCR_B, "stripe", False, {"webhook_secret": "whsec_b"}, b.account_id),
        PCR_PP: Credentials(PCR_PP, "paypal", False, {"webhook_id": "X"}, a.account_id),
    }

    async def lookup(kind: str, credentials_id: str) -> Credentials | None:
        found = stored.get(credentials_id)
        return found if found is not None and found.kind == kind else None

    inbound.receiver.use_credentials(lookup)
    return a, b


async def deliver(inbound: Inbound, path: str, event_id: str, secret: str) -> int:
    body = stripe_event(event_id)
    response = await inbound.http.post(
        path, content=body, headers={"Stripe-Signature": stripe_header(body, secret)}
    )
    return response.status_code


async def test_an_accounts_webhooks_are_its_own(
    inbound: Inbound, two: tuple[Merchant, Merchant]
) -> None:
    a, b = two
    assert await deliver(inbound, f"/webhooks/stripe/{PCR_A}", "evt_same", "whsec_a") == 200
    # The same provider event id for other credentials is another event.
    assert await deliver(inbound, f"/webhooks/stripe/{PCR_B}", "evt_same", "whsec_b") == 200
    rows = await inbound.rows()
    assert {(r.credentials_id, r.account_id) for r in rows} == {
        (PCR_A, a.account_id),
        (PCR_B, b.account_id),
    }


async def test_one_accounts_secret_does_not_open_anothers_url(
    inbound: Inbound, two: tuple[Merchant, Merchant]
) -> None:
    # A holds its own signing secret; a webhook it signs for B's URL is refused there.
    assert await deliver(inbound, f"/webhooks/stripe/{PCR_B}", "evt_forged", "whsec_a") == 400
    # Another kind's credentials id at this provider's URL is no URL at all.
    assert await deliver(inbound, f"/webhooks/stripe/{PCR_PP}", "evt_x", "whsec_a") == 404
    assert await inbound.count() == 0


async def test_the_api_lists_an_accounts_own_events_only(
    inbound: Inbound, two: tuple[Merchant, Merchant]
) -> None:
    a, b = two
    await deliver(inbound, f"/webhooks/stripe/{PCR_A}", "evt_a1", "whsec_a")
    await deliver(inbound, f"/webhooks/stripe/{PCR_B}", "evt_b1", "whsec_b")
    body = stripe_event("evt_default_attributed")
    await inbound.http.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": stripe_header(body)}
    )
    body = stripe_event("evt_default_nobodys", type="charge.refunded")
    await inbound.http.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": stripe_header(body)}
    )
    async with inbound.db.sessions() as session, session.begin():
        # What processing does once it finds the payment a default-credentials event is about.
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.event_id == "evt_default_attributed")
            .values(account_id=a.account_id)
        )
    listed = (await inbound.http.get("/v1/inbound_events", headers=a.auth)).json()
    assert sorted(e["event_id"] for e in listed["data"]) == ["evt_a1", "evt_default_attributed"]
    first = listed["data"][0]
    assert first["object"] == "inbound_event" and first["verified"] is True
    assert first["status"] == "received" and first["provider"] == "stripe"
    of_b = (await inbound.http.get("/v1/inbound_events", headers=b.auth)).json()
    assert [e["event_id"] for e in of_b["data"]] == ["evt_b1"]
    filtered = await inbound.http.get(
        "/v1/inbound_events",
        params={"provider": "stripe", "type": "payment_intent.succeeded", "status": "received"},
        headers=a.auth,
    )
    assert len(filtered.json()["data"]) == 2
    none = await inbound.http.get("/v1/inbound_events", params={"status": "failed"}, headers=a.auth)
    assert none.json()["data"] == []

    # B can neither read nor reprocess A's events.
    a_event = listed["data"][0]["id"]
    assert (
        await inbound.http.get(f"/v1/inbound_events/{a_event}", headers=b.auth)
    ).status_code == 404
    refused = await inbound.http.post(f"/v1/inbound_events/{a_event}/reprocess", headers=b.auth)
    assert refused.status_code == 404 and refused.json()["code"] == "resource_missing"
    got = await inbound.http.get(f"/v1/inbound_events/{a_event}", headers=a.auth)
    assert got.status_code == 200 and got.json()["id"] == a_event


async def test_reprocess_queues_the_job_again_and_resets_the_status(
    inbound: Inbound, two: tuple[Merchant, Merchant]
) -> None:
    a, _ = two
    await deliver(inbound, f"/webhooks/stripe/{PCR_A}", "evt_again", "whsec_a")
    [row] = await inbound.rows()
    async with inbound.db.sessions() as session, session.begin():
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.id == row.id)
            .values(status="failed", error="payment not found yet", attempts=1)
        )
    response = await inbound.http.post(f"/v1/inbound_events/{row.id}/reprocess", headers=a.auth)
    assert response.status_code == 202
    assert response.json()["status"] == "received" and response.json()["error"] is None
    [after] = await inbound.rows()
    assert after.status == "received" and after.error is None
    jobs = await inbound.jobs()
    assert [j.args for j in jobs] == [{JOB_ARG: row.id}, {JOB_ARG: row.id}]


async def test_reprocess_needs_the_write_scope(
    inbound: Inbound, two: tuple[Merchant, Merchant]
) -> None:
    await deliver(inbound, f"/webhooks/stripe/{PCR_A}", "evt_scoped", "whsec_a")
    a, _ = two
    async with transaction(inbound.db.sessions) as session:
        issued = await create_api_key(
            session, account_id=a.account_id, scopes=("read",), livemode=False
        )
    reader = {"Authorization": f"Bearer {issued.secret}"}
    [row] = await inbound.rows()
    assert (
        await inbound.http.get(f"/v1/inbound_events/{row.id}", headers=reader)
    ).status_code == 200
    response = await inbound.http.post(f"/v1/inbound_events/{row.id}/reprocess", headers=reader)
    assert response.status_code == 403
    assert len(await inbound.jobs()) == 1
