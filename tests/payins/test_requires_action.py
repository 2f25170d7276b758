"""Payments that wait for the customer (3-D Secure): requires_action, the customer's action,
confirmation, reconciliation of stuck and abandoned ones; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kassa.core import clock
from kassa.core.settings import Settings
from kassa.jobs.models import Event
from kassa.payins import confirm
from kassa.payins.create_payment import charge_request
from kassa.payins.models import Payment
from kassa.payins.reconcile import reconcile
from kassa.providers.base import ChargeResult, ConfirmRequest
from kassa.providers.registry import ProviderRegistry, build_registry
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.openapi_conformance import api_transport
from tests.payins.conftest import mock_ledger, pay

THREE_DS = "pm_card_threeDSecure"
RETURN = "https://shop.example/orders/1042/return"


async def _confirm(client: httpx.AsyncClient, m: Merchant, pid: str) -> httpx.Response:
    return await client.post(f"/v1/payments/{pid}/confirm", headers=m.auth)


async def _act(client: httpx.AsyncClient, m: Merchant, pid: str) -> httpx.Response:
    return await client.post(f"/v1/test_helpers/payments/{pid}/complete_action", headers=m.auth)


async def _events(db: Backend, pid: str) -> list[Event]:
    async with db.sessions() as s:
        rows = (await s.scalars(select(Event).order_by(Event.created_at, Event.id))).all()
    return [e for e in rows if e.data.get("id") == pid]


async def _stored(db: Backend, pid: str) -> Payment:
    async with db.sessions() as s:
        row = await s.get(Payment, pid)
        assert row is not None
        return row


async def test_the_customer_acts_then_the_merchant_confirms(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    created = await pay(client, acme.auth, token=THREE_DS, return_url=RETURN)
    assert created.status_code == 201, created.text
    body = created.json()
    pid = body["id"]
    assert body["status"] == "requires_action" and body["return_url"] == RETURN
    assert body["amount_captured"]["value"] == "0.00"
    assert body["next_action"]["type"] == "use_sdk"
    secret = body["next_action"]["use_sdk"]["client_secret"]
    assert secret.startswith(f"{body['provider_payment_id']}_secret_")
    assert [a["outcome"] for a in body["attempts"]] == ["requires_action"]
    assert (await client.get(f"/v1/payments/{pid}", headers=acme.auth)).json() == body

    early = await _confirm(client, acme, pid)  # the customer has not acted yet
    assert early.status_code == 200 and early.json()["status"] == "requires_action"
    assert early.json()["next_action"]["use_sdk"]["client_secret"] == secret

    acted = await _act(client, acme, pid)
    assert acted.status_code == 200 and acted.json()["status"] == "requires_action"

    done = await _confirm(client, acme, pid)
    assert done.status_code == 200, done.text
    paid = done.json()
    assert paid["status"] == "succeeded" and paid["next_action"] is None
    assert paid["amount_captured"] == {"value": "100.00", "currency": "USD"}
    assert [(a["operation"], a["outcome"]) for a in paid["attempts"]] == [
        ("authorize", "requires_action"),
        ("confirm", "requires_action"),
        ("confirm", "succeeded"),
    ]
    assert paid["attempts"][-1]["idempotency_key"] == f"{pid}/confirm"
    assert [e.type for e in await _events(db, pid)] == [
        "payment.created",
        "payment.processing",
        "payment.requires_action",
        "payment.processing",
        "payment.requires_action",
        "payment.processing",
        "payment.succeeded",
    ]
    again = await _confirm(client, acme, pid)  # nothing left to confirm: shown as it is
    assert again.status_code == 200 and again.json() == paid
    assert mock_ledger(tmp_path).calls("confirm", f"{pid}/confirm") == 2


async def test_the_client_secret_never_reaches_events(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    hook = await client.post(
        "/v1/webhook_endpoints", headers=acme.auth, json={"url": "https://example.com/hook"}
    )
    assert hook.status_code == 201, hook.text
    body = (await pay(client, acme.auth, token=THREE_DS)).json()
    secret = body["next_action"]["use_sdk"]["client_secret"]
    await _confirm(client, acme, body["id"])
    waiting = [e for e in await _events(db, body["id"]) if e.type == "payment.requires_action"]
    assert len(waiting) == 2
    for event in waiting:
        assert event.data["next_action"] == {"type": "use_sdk", "use_sdk": {}}
    async with db.sessions() as s:
        stored_events = json.dumps([e.data for e in (await s.scalars(select(Event))).all()])
    assert secret not in stored_events  # what every delivery sends is built from these
    listed = await client.get("/v1/events", headers=acme.auth, params={"limit": 100})
    assert listed.status_code == 200 and secret not in listed.text
    # the merchant's own reads show it
    assert secret in (await client.get("/v1/payments", headers=acme.auth)).text


async def test_authorize_only_requires_capture_after_the_action(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth, token=THREE_DS, capture=False)).json()["id"]
    await _act(client, acme, pid)
    held = await _confirm(client, acme, pid)
    assert held.json()["status"] == "requires_capture"
    assert held.json()["amount_capturable"]["value"] == "100.00"
    captured = await client.post(
        f"/v1/payments/{pid}/capture",
        headers=acme.auth,
        json={"amount_to_capture": {"value": "60.00", "currency": "USD"}},
    )
    assert captured.status_code == 200 and captured.json()["status"] == "succeeded"
    assert captured.json()["amount_captured"]["value"] == "60.00"


async def test_a_failed_challenge_fails_the_payment_with_its_decline_code(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth, token="pm_card_threeDSecureFail")).json()["id"]
    await _act(client, acme, pid)
    refused = await _confirm(client, acme, pid)
    assert refused.status_code == 402, refused.text
    problem = refused.json()
    assert problem["code"] == "card_declined"
    assert problem["decline_code"] == "authentication_required"
    assert problem["payment"]["status"] == "failed"
    stored = await _stored(db, pid)
    assert stored.status == "failed" and stored.decline_code == "authentication_required"
    assert stored.next_action is None
    assert [e.type for e in await _events(db, pid)][-1] == "payment.failed"


async def _slow_confirms(registry: ProviderRegistry, seconds: float) -> None:
    provider = registry.get("mock")
    inner = provider.confirm

    async def slow(request: ConfirmRequest) -> ChargeResult:
        await asyncio.sleep(seconds)
        return await inner(request)

    provider.confirm = slow  # type: ignore[method-assign]


async def test_concurrent_confirmations_apply_one_outcome_once(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth, token=THREE_DS)).json()["id"]
    await _act(client, acme, pid)
    registry = build_registry(db.settings(tmp_path))  # the same ledger as the app's
    await _slow_confirms(registry, 0.2)
    common = {"account_id": acme.account_id, "livemode": False, "payment_id": pid}
    views = await asyncio.gather(
        confirm.confirm_payment(db.sessions, registry, **common),
        confirm.confirm_payment(db.sessions, registry, **common),
        confirm.complete_customer_action(db.sessions, registry, pid, trigger="webhook:test"),
    )
    # Whichever won confirmed it; the others saw it in flight (or, if slower, settled).
    statuses = [str(views[0]["status"]), str(views[1]["status"]), views[2].status]
    assert set(statuses) <= {"processing", "succeeded"} and "succeeded" in statuses
    assert mock_ledger(tmp_path).calls("confirm", f"{pid}/confirm") == 1  # one provider call
    stored_attempts = (await client.get(f"/v1/payments/{pid}", headers=acme.auth)).json()
    assert [a["operation"] for a in stored_attempts["attempts"]].count("confirm") == 1
    types = [e.type for e in await _events(db, pid)]
    assert types.count("payment.succeeded") == 1 and types[-1] == "payment.succeeded"
    stored = await _stored(db, pid)
    assert stored.status == "succeeded" and stored.amount_captured == 10000


async def test_the_webhook_entry_point_confirms_once(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth, token=THREE_DS)).json()["id"]
    registry = build_registry(db.settings(tmp_path))
    waiting = await confirm.complete_customer_action(db.sessions, registry, pid, trigger="t")
    assert waiting.status == "requires_action"
    await _act(client, acme, pid)
    paid = await confirm.complete_customer_action(db.sessions, registry, pid, trigger="t")
    assert paid.status == "succeeded"
    repeated = await confirm.complete_customer_action(db.sessions, registry, pid, trigger="t")
    assert repeated.status == "succeeded"
    assert mock_ledger(tmp_path).calls("confirm", f"{pid}/confirm") == 2


async def test_reconciliation_confirms_a_stuck_one_and_cancels_an_abandoned_one(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    stuck = (await pay(client, acme.auth, token=THREE_DS)).json()["id"]
    abandoned = (await pay(client, acme.auth, token=THREE_DS)).json()["id"]
    await _act(client, acme, stuck)  # the webhook that would have said so was lost
    registry = build_registry(db.settings(tmp_path))
    options: dict[str, Any] = {
        "older_than": timedelta(minutes=2),
        "action_confirm_after": timedelta(minutes=15),
        "action_expires_after": timedelta(hours=24),
    }
    soon = await reconcile(db.sessions, registry, **options)
    assert soon.settled == [] and soon.expired == []  # not waiting long enough yet

    frozen = clock.FrozenClock(clock.now() + timedelta(minutes=16))
    clock.install(frozen)
    report = await reconcile(db.sessions, registry, **options)
    assert report.settled == [stuck] and report.expired == []
    assert (await _stored(db, stuck)).status == "succeeded"
    assert (await _stored(db, abandoned)).status == "requires_action"

    frozen.advance(timedelta(hours=24))
    later = await reconcile(db.sessions, registry, **options)
    assert later.expired == [abandoned] and later.settled == []
    gone = await _stored(db, abandoned)
    assert gone.status == "canceled" and gone.canceled_at is not None and gone.next_action is None
    provider_id = gone.provider_payment_id or ""
    assert [op.kind for op in mock_ledger(tmp_path).operations(provider_id)] == ["cancel"]
    assert [e.type for e in await _events(db, abandoned)][-1] == "payment.canceled"
    # the customer can no longer complete it
    late = await _act(client, acme, abandoned)
    assert late.status_code == 409 and late.json()["code"] == "payment_not_awaiting_action"
    last = await reconcile(db.sessions, registry, **options)
    assert last.settled == last.expired == last.unresolved == []


async def test_a_confirmation_left_in_flight_is_finished_by_reconciliation(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth, token=THREE_DS)).json()["id"]
    await _act(client, acme, pid)
    payment, started = await confirm.intend(db.sessions, payment_id=pid, owner=None)
    assert started and payment.status == "processing"  # ... and the process died here
    registry = build_registry(db.settings(tmp_path))
    clock.install(clock.FrozenClock(clock.now() + timedelta(minutes=3)))
    report = await reconcile(db.sessions, registry, older_than=timedelta(minutes=2))
    assert report.settled == [pid]
    assert (await _stored(db, pid)).status == "succeeded"


async def test_the_merchant_can_cancel_a_payment_waiting_for_the_customer(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    body = (await pay(client, acme.auth, token=THREE_DS)).json()
    canceled = await client.post(f"/v1/payments/{body['id']}/cancel", headers=acme.auth)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert canceled.json()["next_action"] is None
    ops = mock_ledger(tmp_path).operations(body["provider_payment_id"])
    assert [op.kind for op in ops] == ["cancel"]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://shop.example/return?order=1", True),
        ("http://localhost:3000/return", True),
        ("http://127.0.0.1:3000/return", True),
        ("http://shop.example/return", False),
        ("ftp://shop.example/return", False),
        ("/return", False),
        ("https://user:pw@shop.example/return", False),
    ],
)
async def test_return_urls_are_https_or_local_http_in_development(
    client: httpx.AsyncClient, db: Backend, url: str, ok: bool
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(client, acme.auth, return_url=url)
    if ok:
        assert response.status_code == 201 and response.json()["return_url"] == url
        stored = await _stored(db, response.json()["id"])
        assert charge_request(stored).return_url == url  # sent with the charge
    else:
        assert response.status_code == 400 and response.json()["code"] == "invalid_return_url"
        assert response.json()["param"] == "return_url"


@pytest.fixture
async def live_app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    from kassa.api.app import create_app

    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as c,
    ):
        yield c, app


async def test_live_keys_cannot_use_the_test_helper(
    live_app_client: tuple[httpx.AsyncClient, Any], db: Backend
) -> None:
    client, app = live_app_client
    test = await merchant(db.sessions)
    live = await merchant(db.sessions, name="Live", livemode=True)
    test_payment = (await pay(client, test.auth, token=THREE_DS)).json()["id"]
    mock = app.state.providers.get("mock")
    mock.test_only = False  # a live payment waiting for its customer, for this test
    live_payment = (await pay(client, live.auth, token=THREE_DS)).json()["id"]
    refused = await _act(client, live, live_payment)
    assert refused.status_code == 403
    assert refused.json()["code"] == "test_helpers_test_mode_only"
    other_mode = await _act(client, live, test_payment)
    assert other_mode.status_code == 404 and other_mode.json()["code"] == "resource_missing"
    assert (await _stored(db, live_payment)).status == "requires_action"


async def test_a_lost_answer_that_required_action_is_found_by_reconciliation(
    db: Backend, tmp_path: Path
) -> None:
    from kassa.core.money import Money
    from kassa.payins.create_payment import NewPayment, intend

    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    payment = await intend(
        db.sessions,
        new=NewPayment(m.account_id, False, Money(900, "USD"), payment_method=THREE_DS),
        registry=registry,
    )
    sent = await registry.get("mock").authorize(charge_request(payment))  # the answer is lost
    assert sent.status == "requires_action" and sent.next_action is not None
    report = await reconcile(db.sessions, registry, older_than=timedelta(0))
    assert report.settled == [payment.id]
    found = await _stored(db, payment.id)
    assert found.status == "requires_action" and found.pending_operation is None
    assert found.next_action == sent.next_action.to_json()  # the client secret, for the API
