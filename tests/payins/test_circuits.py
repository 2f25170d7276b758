"""Circuit breakers through the API: one tenant's test scenarios never refuse another tenant's
payments; a payment refused because its circuit is open is never written (503, Retry-After,
the Idempotency-Key stays free); one admitted just before the circuit opened is still sent."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, func, select

from kassa.accounts.idempotency import IdempotencyKey
from kassa.api.app import create_app
from kassa.core import clock
from kassa.core.money import Money
from kassa.jobs.models import Event
from kassa.payins.create_payment import NewPayment, create_and_confirm
from kassa.payins.errors import ProviderUnavailable
from kassa.payins.models import Payment
from kassa.providers.breakers import CallScope
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.openapi_conformance import api_transport
from tests.payins.conftest import mock_ledger, pay


@pytest.fixture
async def app_client(db: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = db.settings(tmp_path, provider_retry_attempts=1, circuit_failure_threshold=2)
    app = create_app(settings)
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c,
    ):
        yield c


async def _payments(db: Backend, account: Merchant) -> list[Payment]:
    async with db.sessions() as s:
        rows = await s.scalars(select(Payment).where(Payment.account_id == account.account_id))
        return list(rows)


async def _open_circuit(client: httpx.AsyncClient, account: Merchant) -> None:
    """Two outages in the account's test mode (the threshold): its circuit opens."""
    for _ in range(2):
        response = await pay(client, account.auth, token="pm_card_providerDown")
        assert response.status_code == 503


async def test_one_tenants_test_scenarios_never_refuse_another_tenants_payments(
    app_client: httpx.AsyncClient, db: Backend
) -> None:
    e, f = await merchant(db.sessions, "E"), await merchant(db.sessions, "F")
    for _ in range(4):  # rate limits: one request refused each, not an outage
        assert (await pay(app_client, e.auth, token="pm_card_rateLimit")).status_code == 503
    assert (await pay(app_client, e.auth)).status_code == 201  # not even E's circuit opened
    await _open_circuit(app_client, e)  # a real (test-mode) outage opens E's circuit only
    refused = await pay(app_client, e.auth)
    assert refused.status_code == 503 and refused.json()["reason"] == "circuit_open"

    for _ in range(3):
        response = await pay(app_client, f.auth)
        assert response.status_code == 201 and response.json()["status"] == "succeeded"
    day = clock.now().date().isoformat()
    report = await app_client.get(f"/v1/reports/reconciliation?date={day}", headers=f.auth)
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert len(rows) == 3 and {r["difference"] for r in rows} == {""}
    assert {r["provider_status"] for r in rows} == {"succeeded"}
    health = (await app_client.get("/health")).json()["checks"]["providers"]
    assert health["status"] == "ok" and health["providers"]["mock"]["state"] == "closed"


async def test_an_open_circuit_refuses_before_anything_is_written(
    app_client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    e = await merchant(db.sessions, "E")
    await _open_circuit(app_client, e)
    before = await _payments(db, e)
    async with db.sessions() as s:
        events_before = await s.scalar(select(func.count()).select_from(Event))

    key = {**e.auth, "Idempotency-Key": "order-1"}
    refused = await pay(app_client, key)
    assert refused.status_code == 503
    problem = refused.json()
    assert problem["code"] == "provider_unavailable" and problem["reason"] == "circuit_open"
    assert refused.headers["Retry-After"] == "30"
    assert "payment_id" not in problem
    assert len(await _payments(db, e)) == len(before)  # no failed payment left behind
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Event)) == events_before

    frozen.advance(timedelta(seconds=12))
    assert (await pay(app_client, key)).headers["Retry-After"] == "18"
    frozen.advance(timedelta(seconds=19))  # half-open: one trial goes through
    retried = await pay(app_client, key)  # the same key is free: it was never used
    assert retried.status_code == 201 and retried.json()["status"] == "succeeded"
    assert "Idempotent-Replayed" not in retried.headers
    assert len(await _payments(db, e)) == len(before) + 1
    replayed = await pay(app_client, key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == retried.json()["id"]
    assert mock_ledger(tmp_path).charge_count(f"{retried.json()['id']}/authorize") == 1


@dataclass(frozen=True)
class _Nothing:
    """A guarded update that matches no row (this test stores no API response)."""

    table: Table = field(default_factory=lambda: IdempotencyKey.__table__)  # type: ignore[arg-type]
    where: Mapping[str, Any] = field(default_factory=lambda: {"account_id": "-", "key": "-"})
    values: Mapping[str, Any] = field(default_factory=lambda: {"status": "done"})


class _OpensTheCircuitOnIntent:
    """Opens the account's circuit the moment the payment's intent is committed: the race
    between admission and the provider call."""

    def __init__(self, open_it: Any) -> None:
        self.open_it = open_it

    def change_for(self, view: dict[str, object]) -> _Nothing:
        return _Nothing()

    def stored(self) -> None:
        return None

    def intent_committed(self) -> None:
        self.open_it()


async def test_a_payment_admitted_before_its_circuit_opened_is_still_sent(
    db: Backend, tmp_path: Path
) -> None:
    registry = build_registry(db.settings(tmp_path, provider_retry_attempts=1))
    m = await merchant(db.sessions)
    breaker = registry.breaker("mock", CallScope(m.account_id, livemode=False))

    def open_it() -> None:
        for _ in range(breaker.failure_threshold):
            breaker.before_call()
            breaker.on_failure()
        assert breaker.state == "open"

    view = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(m.account_id, False, Money(1500, "USD"), payment_method="pm_card_visa"),
        response_store=_OpensTheCircuitOnIntent(open_it),  # type: ignore[arg-type]
    )
    assert view["status"] == "succeeded"  # sent, like a call already in flight: never failed
    assert mock_ledger(tmp_path).calls("authorize", f"{view['id']}/authorize") == 1
    assert breaker.state == "closed"  # and its success told the breaker the provider is back


async def test_failing_calls_made_while_admitted_still_count(db: Backend, tmp_path: Path) -> None:
    """The admitted call is a real call: its failure counts and the payment fails honestly."""
    registry = build_registry(db.settings(tmp_path, provider_retry_attempts=1))
    m = await merchant(db.sessions)
    breaker = registry.breaker("mock", CallScope(m.account_id, livemode=False))

    def open_it() -> None:
        breaker.before_call()
        breaker.on_failure()
        breaker.opened_at = clock.now().timestamp()

    with pytest.raises(ProviderUnavailable) as failed:
        await create_and_confirm(
            db.sessions,
            registry,
            NewPayment(
                m.account_id, False, Money(1500, "USD"), payment_method="pm_card_providerDown"
            ),
            response_store=_OpensTheCircuitOnIntent(open_it),  # type: ignore[arg-type]
        )
    payment = failed.value.details["payment"]
    assert payment["status"] == "failed"
    assert [a["error_code"] for a in payment["attempts"]] == ["provider_down"]  # it was sent
    assert breaker.failures == 2
