"""Dashboard users: passwords, roles and short-lived tokens."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from kassa.accounts.users import create_user
from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.errors import Conflict, InvalidRequest
from kassa.payouts.access import create_affiliate_user
from tests.conftest import Backend
from tests.factories import merchant


async def _user(db: Backend, role: str, account_id: str | None, email: str) -> None:
    async with transaction(db.sessions) as session:
        await create_user(
            session, email=email, password="correct horse battery", role=role, account_id=account_id
        )


async def test_sign_in_gives_a_token_that_works_until_it_expires(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    await _user(db, "manager", acme.account_id, "Manager@Acme.test")
    response = await client.post(
        "/v1/auth/token", json={"email": "manager@acme.test", "password": "correct horse battery"}
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    account = await client.get("/v1/account", headers=auth)
    assert account.json()["id"] == acme.account_id

    frozen = clock.FrozenClock(clock.now() + timedelta(hours=2))
    clock.install(frozen)
    expired = await client.get("/v1/account", headers=auth)
    assert expired.status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, db: Backend
) -> None:
    await _user(db, "admin", None, "root@kassa.test")
    wrong = await client.post(
        "/v1/auth/token", json={"email": "root@kassa.test", "password": "not the password"}
    )
    unknown = await client.post(
        "/v1/auth/token", json={"email": "who@kassa.test", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"


async def test_roles_gate_operator_endpoints(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    await _user(db, "admin", None, "root@kassa.test")
    ada = await client.post(
        "/v1/affiliates",
        headers=acme.auth,
        json={"code": "ada", "name": "Ada", "email": "ada@example.test"},
    )
    async with transaction(db.sessions) as session:
        await create_affiliate_user(
            session,
            email="aff@acme.test",
            password="correct horse battery",
            account_id=acme.account_id,
            affiliate_id=ada.json()["id"],
        )

    async def token(email: str) -> dict[str, str]:
        r = await client.post(
            "/v1/auth/token", json={"email": email, "password": "correct horse battery"}
        )
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    assert (await client.get("/v1/jobs", headers=await token("root@kassa.test"))).status_code == 200
    denied = await client.get("/v1/jobs", headers=await token("aff@acme.test"))
    assert denied.status_code == 403
    assert denied.json()["code"] == "insufficient_role"
    assert (await client.get("/v1/jobs", headers=acme.auth)).status_code == 403
    # an affiliate holds no scope: only its own payout records (tests/payouts/test_access.py)
    write = await client.post("/v1/api_keys", headers=await token("aff@acme.test"), json={})
    assert write.status_code == 403
    read = await client.get("/v1/payments", headers=await token("aff@acme.test"))
    assert read.status_code == 403 and read.json()["code"] == "insufficient_scope"


async def test_user_rules(db: Backend) -> None:
    async with transaction(db.sessions) as session:
        with pytest.raises(InvalidRequest):
            await create_user(
                session, email="a@b.test", password="short", role="admin", account_id=None
            )
        with pytest.raises(InvalidRequest):
            await create_user(
                session,
                email="a@b.test",
                password="long enough pw",
                role="manager",
                account_id=None,
            )
        with pytest.raises(InvalidRequest):
            await create_user(
                session, email="a@b.test", password="long enough pw", role="owner", account_id=None
            )
    await _user(db, "admin", None, "dup@kassa.test")
    async with transaction(db.sessions) as session:
        with pytest.raises(Conflict):
            await create_user(
                session,
                email="DUP@kassa.test",
                password="long enough pw",
                role="admin",
                account_id=None,
            )
