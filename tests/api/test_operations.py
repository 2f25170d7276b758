"""/health, /metrics, OpenAPI and a database that is down."""

from __future__ import annotations

from pathlib import Path

import httpx

from kassa.core.settings import Settings
from tests.conftest import Backend
from tests.factories import merchant
from tests.openapi_conformance import api_transport


async def test_health_reports_database_and_worker(client: httpx.AsyncClient, db: Backend) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"] == {"status": "ok", "backend": db.engine.dialect.name}
    # no worker has run against this database: degraded, not down
    assert body["checks"]["worker"]["status"] == "degraded"
    assert body["status"] == "degraded"


async def test_metrics_expose_requests_and_queue(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    await client.get("/v1/account", headers=acme.auth)
    text = (await client.get("/metrics")).text
    assert 'kassa_http_requests_total{method="GET",route="/v1/account",status="200"}' in text
    assert "kassa_jobs_queued" in text
    assert "kassa_jobs_dead" in text


async def test_openapi_documents_the_api(client: httpx.AsyncClient, db: Backend) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "kassa"
    assert "/v1/api_keys" in spec["paths"]


async def test_database_down_is_a_503_problem_not_a_trace(tmp_path: Path) -> None:
    from kassa.api.app import create_app

    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/nothing",
        var_dir=tmp_path,
        secret_key="k" * 40,
        rate_limit_per_ip=0,
    )
    app = create_app(settings)
    transport = api_transport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/v1/account", headers={"Authorization": "Bearer sk_test_x"})
        health = await c.get("/health")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "Traceback" not in response.text
    assert health.status_code == 503
    assert health.json()["checks"]["database"]["status"] == "down"


async def test_a_value_the_database_refuses_is_the_requests_fault_not_an_outage(
    tmp_path: Path,
) -> None:
    """A 503 would tell clients to retry the very same request forever."""
    from sqlalchemy.exc import DataError

    from kassa.api.app import create_app

    app = create_app(Settings(var_dir=tmp_path, secret_key="k" * 40, rate_limit_per_ip=0))

    async def refuse() -> None:
        raise DataError("INSERT ...", None, ValueError("value out of range for type bigint"))

    app.add_api_route("/refuse", refuse)
    transport = api_transport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/refuse")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "bigint" not in response.text and "Traceback" not in response.text
