"""Managing API keys can never be a way to hold more than one holds (issue #8, item 1)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from kassa.accounts.api_keys import create_api_key
from kassa.accounts.models import ApiKey
from kassa.accounts.users import create_user
from kassa.core.audit import AuditEntry
from kassa.core.db import transaction
from tests.conftest import Backend
from tests.factories import Merchant, merchant

PASSWORD = "correct horse battery"
REFUSED = "access.denied"  # the audit action of a 403


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def key(db: Backend, account_id: str, *scopes: str, livemode: bool = False) -> str:
    async with transaction(db.sessions) as session:
        issued = await create_api_key(
            session, account_id=account_id, scopes=scopes, livemode=livemode
        )
    return issued.secret


async def key_ids(db: Backend, account_id: str) -> set[str]:
    async with db.sessions() as session:
        rows = await session.scalars(select(ApiKey.id).where(ApiKey.account_id == account_id))
        return set(rows.all())


async def refusals(db: Backend) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == REFUSED).order_by(AuditEntry.id)
        )
        return [{"actor": e.actor, "account": e.account_id, **(e.after or {})} for e in rows]


async def test_an_integration_key_cannot_mint_a_refund_key(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions, scopes=("read", "write"))
    before = await key_ids(db, acme.account_id)
    minted = await client.post(
        "/v1/api_keys", headers=acme.auth, json={"scopes": ["read", "write", "refund"]}
    )
    assert minted.status_code == 403
    assert minted.json()["code"] == "insufficient_scope"
    assert minted.json()["required_scope"] == "api_keys"
    listed = await client.get("/v1/api_keys", headers=acme.auth)
    assert listed.status_code == 403
    revoke = await client.post(f"/v1/api_keys/{acme.key_id}/revoke", headers=acme.auth)
    assert revoke.status_code == 403
    assert await key_ids(db, acme.account_id) == before
    # each refusal is in the audit log, committed although the request was rolled back
    logged = await refusals(db)
    assert [(r["code"], r["method"], r["route"]) for r in logged] == [
        ("insufficient_scope", "POST", "/v1/api_keys"),
        ("insufficient_scope", "GET", "/v1/api_keys"),
        ("insufficient_scope", "POST", "/v1/api_keys/{key_id}/revoke"),
    ]
    assert {r["actor"] for r in logged} == {f"api_key:{acme.key_id}"}
    assert {r["account"] for r in logged} == {acme.account_id}


async def test_new_keys_do_not_manage_keys_unless_asked(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    created = await client.post("/v1/api_keys", headers=acme.auth, json={"name": "shop"})
    assert created.status_code == 201
    assert created.json()["scopes"] == ["read", "write", "refund"]
    shop = bearer(created.json()["secret"])
    assert (await client.get("/v1/api_keys", headers=shop)).status_code == 403


async def test_a_key_grants_only_scopes_it_holds(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions, scopes=("read", "api_keys"))
    before = await key_ids(db, acme.account_id)
    wider = await client.post(
        "/v1/api_keys", headers=acme.auth, json={"scopes": ["read", "refund"]}
    )
    assert wider.status_code == 403
    problem = wider.json()
    assert problem["code"] == "scope_exceeds_own" and problem["scopes_not_held"] == ["refund"]
    assert await key_ids(db, acme.account_id) == before
    [logged] = await refusals(db)
    assert logged["code"] == "scope_exceeds_own" and logged["scopes_not_held"] == ["refund"]

    narrower = await client.post("/v1/api_keys", headers=acme.auth, json={"scopes": ["read"]})
    assert narrower.status_code == 201 and narrower.json()["scopes"] == ["read"]


async def test_a_narrow_key_cannot_revoke_a_wider_one(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)  # every scope
    narrow = bearer(await key(db, acme.account_id, "api_keys"))
    refused = await client.post(f"/v1/api_keys/{acme.key_id}/revoke", headers=narrow)
    assert refused.status_code == 403 and refused.json()["code"] == "scope_exceeds_own"
    assert (await client.get("/v1/account", headers=acme.auth)).status_code == 200


async def test_a_test_key_sees_and_touches_only_test_keys(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)  # a test key with every scope
    live = await key(db, acme.account_id, "read", "write", "refund", livemode=True)
    [live_id] = await key_ids(db, acme.account_id) - {acme.key_id}

    listed = await client.get("/v1/api_keys", headers=acme.auth)
    assert [k["id"] for k in listed.json()["data"]] == [acme.key_id]
    revoked = await client.post(f"/v1/api_keys/{live_id}/revoke", headers=acme.auth)
    assert revoked.status_code == 404  # another mode's key does not exist for a test key
    assert (await client.get("/v1/account", headers=bearer(live))).status_code == 200

    other_mode = await client.post("/v1/api_keys", headers=acme.auth, json={"livemode": True})
    assert other_mode.status_code == 403 and other_mode.json()["code"] == "livemode_mismatch"
    own_mode = await client.post("/v1/api_keys", headers=acme.auth, json={"livemode": False})
    assert own_mode.status_code == 201 and own_mode.json()["livemode"] is False
    assert [r["code"] for r in await refusals(db)] == ["livemode_mismatch"]


async def test_a_live_key_creates_live_keys(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions, livemode=True)
    created = await client.post("/v1/api_keys", headers=acme.auth, json={})
    assert created.status_code == 201
    assert created.json()["livemode"] is True and created.json()["secret"].startswith("sk_live_")


async def _sign_in(client: httpx.AsyncClient, db: Backend, role: str, m: Merchant | None) -> Any:
    email = f"{role}-{m.account_id if m else 'platform'}@kassa.test".lower()
    async with transaction(db.sessions) as session:
        await create_user(
            session, email=email, password=PASSWORD, role=role, account_id=m and m.account_id
        )
    token = await client.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
    return bearer(token.json()["access_token"])


async def test_an_admin_manages_both_modes_of_its_account_a_manager_none(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    globex = await merchant(db.sessions, "Globex")
    admin = await _sign_in(client, db, "admin", acme)

    live = await client.post(
        "/v1/api_keys", headers=admin, json={"livemode": True, "scopes": ["read", "api_keys"]}
    )
    assert live.status_code == 201 and live.json()["secret"].startswith("sk_live_")
    listed = await client.get("/v1/api_keys", headers=admin)
    assert {k["id"] for k in listed.json()["data"]} == {acme.key_id, live.json()["id"]}
    assert (await client.post(f"/v1/api_keys/{live.json()['id']}/revoke", headers=admin)).json()[
        "revoked"
    ] is True
    other = await client.post(f"/v1/api_keys/{globex.key_id}/revoke", headers=admin)
    assert other.status_code == 404

    manager = await _sign_in(client, db, "manager", acme)
    denied = await client.post("/v1/api_keys", headers=manager, json={})
    assert denied.status_code == 403 and denied.json()["code"] == "insufficient_scope"

    platform = await _sign_in(client, db, "admin", None)
    no_account = await client.get("/v1/api_keys", headers=platform)
    assert no_account.status_code == 403 and no_account.json()["code"] == "account_required"
    assert [r["code"] for r in await refusals(db)] == ["insufficient_scope", "account_required"]
