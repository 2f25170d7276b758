"""An event's data is the payment exactly as GET /v1/payments/{id} shows it at that moment:
every attempt made for it so far included, whichever step (or reconciliation) emitted it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kassa.core import clock
from kassa.jobs.models import Event
from kassa.payins import lifecycle
from kassa.payins.models import Payment
from kassa.payins.reconcile import reconcile
from kassa.payins.state import CANCELED
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.payins.conftest import pay


async def _last_event(db: Backend, payment_id: str, event_type: str) -> dict[str, Any]:
    async with db.sessions() as s:
        events = (
            await s.scalars(select(Event).where(Event.type == event_type).order_by(Event.id))
        ).all()
    found = [e.data for e in events if e.data.get("id") == payment_id]
    assert found, f"no {event_type} for {payment_id}"
    data: dict[str, Any] = found[-1]
    return data


async def _shown(client: httpx.AsyncClient, m: Merchant, payment_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/payments/{payment_id}", headers=m.auth)
    assert response.status_code == 200
    shown: dict[str, Any] = response.json()
    return shown


def _operations(view: dict[str, Any]) -> list[str]:
    return [a["operation"] for a in view["attempts"]]


async def test_payment_refunded_carries_the_payment_with_its_attempts(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth)).json()["id"]
    refund = {"amount": {"value": "25.00", "currency": "USD"}}
    response = await client.post(f"/v1/payments/{pid}/refund", json=refund, headers=acme.auth)
    assert response.status_code == 201, response.text
    partly = await _last_event(db, pid, "payment.refunded")
    shown = await _shown(client, acme, pid)
    assert partly == shown
    assert partly["status"] == "partially_refunded"
    assert _operations(partly) == ["authorize", "refund"]

    response = await client.post(f"/v1/payments/{pid}/refund", headers=acme.auth)
    assert response.status_code == 201, response.text
    fully = await _last_event(db, pid, "payment.refunded")
    assert fully == await _shown(client, acme, pid)
    assert fully["status"] == "refunded"
    assert _operations(fully) == ["authorize", "refund", "refund"]


async def test_a_reconciled_payment_succeeded_carries_every_attempt(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(client, acme.auth, token="pm_card_timeout")
    assert response.status_code == 202
    pid = response.json()["id"]
    clock.install(clock.FrozenClock(clock.now() + timedelta(minutes=3)))
    registry = build_registry(db.settings(tmp_path))
    report = await reconcile(db.sessions, registry, older_than=timedelta(minutes=2))
    assert report.settled == [pid]
    succeeded = await _last_event(db, pid, "payment.succeeded")
    assert succeeded == await _shown(client, acme, pid)
    assert _operations(succeeded) == ["authorize"] * 3 + ["lookup"]


async def test_capture_and_cancel_events_carry_the_authorization_too(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    held = (await pay(client, acme.auth, capture=False)).json()["id"]
    authorized = await _last_event(db, held, "payment.requires_capture")
    assert authorized == await _shown(client, acme, held)
    captured = await client.post(f"/v1/payments/{held}/capture", headers=acme.auth)
    assert captured.status_code == 200, captured.text
    succeeded = await _last_event(db, held, "payment.succeeded")
    assert succeeded == await _shown(client, acme, held)
    assert _operations(succeeded) == ["authorize", "capture"]

    released = (await pay(client, acme.auth, capture=False)).json()["id"]
    canceled = await client.post(f"/v1/payments/{released}/cancel", headers=acme.auth)
    assert canceled.status_code == 200, canceled.text
    event = await _last_event(db, released, "payment.canceled")
    assert event == await _shown(client, acme, released)
    assert _operations(event) == ["authorize", "cancel"]


async def test_a_created_and_charged_payment_shows_the_same_in_its_event(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth)).json()["id"]
    succeeded = await _last_event(db, pid, "payment.succeeded")
    assert succeeded == await _shown(client, acme, pid)
    declined = await pay(client, acme.auth, token="pm_card_chargeDeclined")
    failed_id = declined.json()["payment_id"]
    assert await _last_event(db, failed_id, "payment.failed") == await _shown(
        client, acme, failed_id
    )


async def test_a_payment_changed_without_its_attempts_cannot_emit_a_partial_event(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    pid = (await pay(client, acme.auth, capture=False)).json()["id"]
    async with db.sessions() as session:
        unlocked = await session.get(Payment, pid)  # not how a change loads it
        assert unlocked is not None
        with pytest.raises(RuntimeError, match="get_payment"):
            lifecycle.transition(session, unlocked, CANCELED)
        await session.rollback()
    assert (await _shown(client, acme, pid))["status"] == "requires_capture"
