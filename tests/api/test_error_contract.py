"""What every error response promises: its request id, the right status for a database error,
its place in /openapi.json (its code in the error catalog: test_error_catalog.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from kassa.api.errors import database_failure
from kassa.api.openapi import problems
from kassa.core.settings import Settings
from tests.conftest import Backend
from tests.factories import merchant
from tests.openapi_conformance import api_transport

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app plus routes that fail the ways a bug or the database can."""
    from kassa.api.app import create_app

    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    async def run_sql(request: Request, sql: str) -> dict[str, str]:
        async with request.app.state.kassa.sessions() as session:
            for statement in sql.split(";"):
                await session.execute(text(statement))
        return {}

    app.add_api_route("/test/boom", boom)
    app.add_api_route("/test/sql", run_sql, responses=problems(409))  # a test-only GET that writes
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client,
    ):
        yield app, client


async def test_a_500_carries_its_request_id_in_header_and_body(
    app_client: tuple[FastAPI, httpx.AsyncClient], db: Backend
) -> None:
    _, client = app_client
    response = await client.get("/test/boom", headers={"X-Request-Id": "trace-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-500"
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "trace-500"
    assert "a bug" not in response.text and "Traceback" not in response.text


async def test_a_constraint_conflict_is_409_not_an_outage(
    app_client: tuple[FastAPI, httpx.AsyncClient], db: Backend
) -> None:
    _, client = app_client
    sql = (
        "CREATE TEMPORARY TABLE guard_t (id INTEGER PRIMARY KEY);"
        "INSERT INTO guard_t VALUES (1);INSERT INTO guard_t VALUES (1)"
    )
    response = await client.get("/test/sql", params={"sql": sql})
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert "retry-after" not in response.headers


async def test_a_value_the_database_refuses_is_400_not_an_outage(
    app_client: tuple[FastAPI, httpx.AsyncClient], db: Backend
) -> None:
    if db.name != "postgresql":
        pytest.skip("SQLite stores any value in any column")
    _, client = app_client
    for sql in ("SELECT CAST('abc' AS INTEGER)", "SELECT chr(0)", "SELECT 1/0"):
        response = await client.get("/test/sql", params={"sql": sql})
        assert response.status_code == 400, (sql, response.text)
        assert response.json()["code"] == "invalid_request"
    health = await client.get("/health")
    assert health.json()["checks"]["database"]["status"] == "ok"


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("08006", "outage"),  # connection failure
        ("53300", "outage"),  # too many connections
        ("57P01", "outage"),  # admin shutdown
        ("22021", "bad_value"),  # NUL: character not in repertoire
        ("22008", "bad_value"),  # datetime field overflow
        ("54000", "bad_value"),  # program limit exceeded: "null character not permitted"
        ("23505", "conflict"),  # unique violation
        ("40001", "conflict"),  # serialization failure
        ("42P01", "bug"),  # undefined table
        (None, "bug"),
    ],
)
def test_database_errors_are_classified_by_what_caused_them(
    sqlstate: str | None, kind: str
) -> None:
    assert database_failure(DBAPIError("SELECT 1", None, _DriverError(sqlstate))) == kind


def test_a_lost_connection_is_an_outage_whatever_it_says() -> None:
    lost = DBAPIError("SELECT 1", None, _DriverError("22021"), connection_invalidated=True)
    assert database_failure(lost) == "outage"
    assert database_failure(OperationalError("SELECT 1", None, _DriverError(None))) == "outage"


async def test_the_openapi_documents_the_problems_each_operation_gives(
    client: httpx.AsyncClient, db: Backend
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # kassa answers 400
            for status in ("400", "429", "500", "503"):
                content = responses[status]["content"]
                assert "application/problem+json" in content, (method, path, status)
            if path.startswith("/v1/") and path != "/v1/auth/token":
                assert {"401", "403"} <= set(responses), (method, path)
            if method in ("post", "put", "patch"):
                assert {"413", "415"} <= set(responses), (method, path)


async def test_a_wrong_method_lists_every_method_of_the_path(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await client.request("OPTIONS", "/v1/webhook_endpoints/we_x", headers=acme.auth)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST", "PATCH", "DELETE"}
