"""Failover on transient errors (recorded in attempts), never on declines or timeouts;
circuit breakers visible in /health and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.api.app import create_app
from tests.conftest import Backend
from tests.factories import merchant
from tests.openapi_conformance import api_transport
from tests.payins.conftest import mock_ledger, pay


@pytest.fixture
async def failover_client(db: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = db.settings(
        tmp_path,
        provider_failover="mock,mock_b",
        provider_retry_attempts=1,
        circuit_failure_threshold=2,
    )
    app = create_app(settings)
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c,
    ):
        yield c


def _attempts(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["provider"], a["outcome"]) for a in body["attempts"]]


async def test_transient_error_fails_over_to_the_next_provider(
    failover_client: httpx.AsyncClient, db: Backend, tmp_path: Path
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
    assert mock_ledger(tmp_path, "mock_b").charge_count(f"{body['id']}/authorize") == 1
    assert mock_ledger(tmp_path, "mock").charge_count(f"{body['id']}/authorize") == 0


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
    failover_client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    """The charge may exist at the first provider: a second provider could charge twice."""
    acme = await merchant(db.sessions)
    response = await pay(failover_client, acme.auth, token="pm_card_timeout")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "processing"
    assert _attempts(body) == [("mock", "timeout")]
    assert mock_ledger(tmp_path, "mock").charge_count(f"{body['id']}/authorize") == 1
    assert mock_ledger(tmp_path, "mock_b").charge_count(f"{body['id']}/authorize") == 0


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
    failover_client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    for _ in range(2):  # an outage (a rate limit would not count: tests/providers)
        await pay(failover_client, acme.auth, token="pm_card_providerDown_on_mock")
    health = (await failover_client.get("/health")).json()
    providers = health["checks"]["providers"]
    # Test mode: the circuit is acme's own; the install's live circuits stay closed.
    assert providers["status"] == "ok"
    assert providers["providers"]["mock"]["state"] == "closed"
    assert providers["providers"]["mock"]["account_circuits_open"] == 1
    assert providers["providers"]["mock_b"]["account_circuits_open"] == 0
    metrics = (await failover_client.get("/metrics")).text
    assert 'kassa_provider_circuit_state{provider="mock"} 0.0' in metrics
    assert 'kassa_provider_account_circuits_open{provider="mock"} 1.0' in metrics

    response = await pay(failover_client, acme.auth, token="pm_card_visa")
    body = response.json()
    assert response.status_code == 201 and body["provider"] == "mock_b"
    assert body["attempts"][0]["error_code"] == "circuit_open"
    assert mock_ledger(tmp_path).calls("authorize", f"{body['id']}/authorize") == 0  # not called
