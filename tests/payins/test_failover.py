"""Failover on transient errors (recorded in attempts), never on declines or timeouts;
circuit breakers visible in /health and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.api.app import create_app
from kassa.providers.mock.provider import ledger_for
from tests.conftest import Backend
from tests.factories import merchant
from tests.payins.conftest import pay


@pytest.fixture
async def failover_client(db: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = db.settings(
        tmp_path,
        provider_failover="mock,mock_b",
        provider_retry_attempts=1,
        circuit_failure_threshold=2,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c,
    ):
        yield c


def _attempts(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["provider"], a["outcome"]) for a in body["attempts"]]


async def test_transient_error_fails_over_to_the_next_provider(
    failover_client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(failover_client, acme.auth, token="pm_card_rateLimit_on_mock")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "succeeded" and body["provider"] == "mock_b"
    assert _attempts(body) == [("mock", "unavailable"), ("mock_b", "succeeded")]
    assert body["attempts"][0]["error_code"] == "rate_limited"
    keys = {a["idempotency_key"] for a in body["attempts"]}
    assert keys == {f"{body['id']}/authorize"}
    assert ledger_for("mock_b").charge_count(f"{body['id']}/authorize") == 1
    assert ledger_for("mock").charge_count(f"{body['id']}/authorize") == 0


async def test_declines_never_fail_over(failover_client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    response = await pay(failover_client, acme.auth, token="pm_card_insufficientFunds")
    assert response.status_code == 402
    payment = (
        await failover_client.get(
            f"/v1/payments/{response.json()['payment_id']}", headers=acme.auth
        )
    ).json()
    assert _attempts(payment) == [("mock", "declined")]
    assert payment["provider"] == "mock" and payment["status"] == "failed"


async def test_permanent_errors_never_fail_over(
    failover_client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(failover_client, acme.auth, token="pm_card_invalidPayee")
    assert response.status_code == 400 and response.json()["code"] == "invalid_payee"
    payment = response.json()["payment"]
    assert _attempts(payment) == [("mock", "refused")]
    assert payment["status"] == "failed" and payment["failure_code"] == "invalid_payee"


async def test_a_timeout_never_fails_over_and_stays_processing(
    failover_client: httpx.AsyncClient, db: Backend
) -> None:
    """The charge may exist at the first provider: a second provider could charge twice."""
    acme = await merchant(db.sessions)
    response = await pay(failover_client, acme.auth, token="pm_card_timeout")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "processing"
    assert _attempts(body) == [("mock", "timeout")]
    assert ledger_for("mock_b").charge_count(f"{body['id']}/authorize") == 0


async def test_without_failover_a_transient_error_fails_the_payment(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(client, acme.auth, token="pm_card_rateLimit")
    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "provider_unavailable"
    payment = problem["payment"]
    assert payment["status"] == "failed" and payment["failure_code"] == "provider_unavailable"
    assert {a["provider"] for a in payment["attempts"]} == {"mock"}


async def test_circuit_opens_is_visible_and_fails_fast(
    failover_client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    for _ in range(2):
        await pay(failover_client, acme.auth, token="pm_card_rateLimit_on_mock")
    health = (await failover_client.get("/health")).json()
    providers = health["checks"]["providers"]
    assert providers["status"] == "degraded"
    assert providers["providers"]["mock"]["state"] == "open"
    assert providers["providers"]["mock_b"]["state"] == "closed"
    metrics = (await failover_client.get("/metrics")).text
    assert 'kassa_provider_circuit_state{provider="mock"} 2.0' in metrics

    response = await pay(failover_client, acme.auth, token="pm_card_visa")
    body = response.json()
    assert response.status_code == 201 and body["provider"] == "mock_b"
    assert body["attempts"][0]["error_code"] == "circuit_open"
    assert ledger_for("mock").calls[f"authorize:{body['id']}/authorize"] == 0  # not called
