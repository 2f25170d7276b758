"""Authentication, scopes, cross-account isolation and problem-details errors."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import merchant
from tests.openapi_conformance import api_transport


async def test_a_key_sees_its_own_account(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions, "Acme")
    response = await client.get("/v1/account", headers=acme.auth)
    assert response.status_code == 200
    assert response.json()["id"] == acme.account_id
    assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "authentication_required"),
        ("Bearer sk_test_nope", "invalid_api_key"),
        ("Bearer garbage", "invalid_token"),
        ("Basic !!!", "authentication_failed"),
    ],
)
async def test_bad_credentials_get_401_problem_details(
    client: httpx.AsyncClient, db: Backend, header: str | None, code: str
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get("/v1/account", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == 401
    assert body["request_id"]
    assert "Traceback" not in response.text


async def test_revoked_key_stops_working(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    revoked = await client.post(f"/v1/api_keys/{acme.key_id}/revoke", headers=acme.auth)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    response = await client.get("/v1/account", headers=acme.auth)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


async def test_keys_of_one_account_cannot_touch_another(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions, "Acme")
    globex = await merchant(db.sessions, "Globex")
    response = await client.post(f"/v1/api_keys/{acme.key_id}/revoke", headers=globex.auth)
    assert response.status_code == 404  # not 403: another account's ids do not exist for you
    assert response.json()["code"] == "resource_missing"
    listed = await client.get("/v1/api_keys", headers=globex.auth)
    assert [k["id"] for k in listed.json()["data"]] == [globex.key_id]
    still = await client.get("/v1/account", headers=acme.auth)
    assert still.status_code == 200


async def test_scopes_are_enforced(client: httpx.AsyncClient, db: Backend) -> None:
    reader = await merchant(db.sessions, scopes=("read",))
    assert (await client.get("/v1/account", headers=reader.auth)).status_code == 200
    response = await client.post("/v1/api_keys", headers=reader.auth, json={"name": "x"})
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    # listing keys is key management too: it takes the api_keys scope, not read
    listed = await client.get("/v1/api_keys", headers=reader.auth)
    assert listed.status_code == 403
    assert listed.json()["code"] == "insufficient_scope"


async def test_created_key_is_shown_once_and_works(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    created = await client.post(
        "/v1/api_keys", headers=acme.auth, json={"name": "ci", "scopes": ["read", "api_keys"]}
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("sk_test_")
    listed = await client.get("/v1/api_keys", headers={"Authorization": f"Bearer {secret}"})
    assert listed.status_code == 200
    assert all(k["secret"] is None for k in listed.json()["data"])
    assert secret not in listed.text


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ('{"name": ', "invalid_json", None),
        ('{"name": "x", "colour": "red"}', "invalid_request", "colour"),
        ('{"name": 5}', "invalid_request", "name"),
        ('{"scopes": ["admin"]}', "invalid_request", "scopes.0"),
    ],
)
async def test_malformed_requests_get_400_and_change_nothing(
    client: httpx.AsyncClient, db: Backend, body: str, code: str, param: str | None
) -> None:
    acme = await merchant(db.sessions)
    response = await client.post(
        "/v1/api_keys", content=body, headers={**acme.auth, "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == code
    if param:
        assert problem["param"] == param
    listed = await client.get("/v1/api_keys", headers=acme.auth)
    assert len(listed.json()["data"]) == 1


async def test_oversized_bodies_are_refused(db: Backend, tmp_path: object) -> None:
    from pathlib import Path

    from kassa.api.app import create_app

    app = create_app(db.settings(Path(str(tmp_path)), max_body_bytes=2048))
    acme = await merchant(db.sessions)
    transport = api_transport(app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        big = '{"name": "' + "x" * 5000 + '"}'
        response = await c.post(
            "/v1/api_keys", content=big, headers={**acme.auth, "content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    await app.state.kassa.engine.dispose()


async def test_rate_limit_answers_429_with_retry_after(db: Backend, tmp_path: object) -> None:
    from pathlib import Path

    from kassa.api.app import create_app

    app = create_app(db.settings(Path(str(tmp_path)), rate_limit_per_key=2, rate_limit_burst=1))
    acme = await merchant(db.sessions)
    other = await merchant(db.sessions, "Other")
    async with httpx.AsyncClient(
        transport=api_transport(app, raise_app_exceptions=True), base_url="http://t"
    ) as c:
        statuses = [(await c.get("/v1/account", headers=acme.auth)).status_code for _ in range(6)]
        limited = await c.get("/v1/account", headers=acme.auth)
        assert 429 in statuses and limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["code"] == "rate_limited"
        # another key is not affected
        assert (await c.get("/v1/account", headers=other.auth)).status_code == 200
    await app.state.kassa.engine.dispose()


async def test_unknown_route_is_problem_details(client: httpx.AsyncClient, db: Backend) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_nul_characters_are_refused_not_a_database_error(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await client.post("/v1/api_keys", headers=acme.auth, json={"name": "a\u0000b"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_character"
    query = await client.get("/v1/api_keys?starting_after=key_%00", headers=acme.auth)
    assert query.status_code == 400
    listed = await client.get("/v1/api_keys", headers=acme.auth)
    assert len(listed.json()["data"]) == 1
