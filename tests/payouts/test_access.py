"""Who may do what with payout records: every payout operation tried as each role.

Roles: the account's admin and manager users, an affiliate user linked to Ada, an affiliate
user linked to Bob (another affiliate of the same account), the admin of another account,
and the account's API key (an integration: its scopes decide, as before).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kassa.accounts.models import User
from kassa.accounts.users import create_user
from kassa.core.db import transaction
from kassa.core.errors import InvalidRequest, NotFound
from kassa.core.ids import new_id
from kassa.payouts.access import create_affiliate_user
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.fakes.rise.server import RiseStandIn
from tests.helpers import kassa_env, run_kassa
from tests.payouts.conftest import World

PASSWORD = "correct horse battery"
ROLES = ("admin", "manager", "ada", "bob", "stranger", "key")
_serial = count(1)


@dataclass
class Setup:
    world: World
    auth: dict[str, dict[str, str]]
    ada: dict[str, Any]
    bob: dict[str, Any]
    ada_payee: dict[str, Any]
    ada_commission: str  # queued in the batch
    bob_commission: str
    batch: str
    ada_payout: str
    bob_payout: str
    other: Merchant

    async def pending_commission(self, affiliate: dict[str, Any]) -> str:
        made = await self.world.post(
            "/v1/subscription_events", event(affiliate["code"], "100.00"), 201
        )
        return str(made["commissions"][0]["id"])


def event(code: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt_{next(_serial)}",
        "type": "new",
        "affiliate_code": code,
        "subscription_id": f"sub_{code}",
        "amount": {"value": value, "currency": "USD"},
        "occurred_at": "2026-01-27T10:00:00Z",
        **extra,
    }


async def _token(world: World, email: str) -> dict[str, str]:
    response = await world.client.post(
        "/v1/auth/token", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def setup(world: World, rise: RiseStandIn, db: Backend) -> Setup:
    ada = await world.affiliate("ada")
    bob = await world.affiliate("bob")
    ada_payee = await world.payable_payee(rise, ada)
    await world.payable_payee(rise, bob)
    ids = []
    for who in (ada, bob):
        made = await world.post("/v1/subscription_events", event(who["code"], "1000.00"), 201)
        ids.append(made["commissions"][0]["id"])
    await world.post("/v1/commissions/approve", {"ids": ids})
    batch = (await world.post("/v1/payout_batches", {}, 201))["data"][0]
    payouts = {t["affiliate_id"]: t["id"] for t in batch["transactions"]}
    other = await merchant(db.sessions, name="Other")
    async with transaction(db.sessions) as session:
        for email, role, account in (
            ("admin@acme.test", "admin", world.acme.account_id),
            ("manager@acme.test", "manager", world.acme.account_id),
            ("root@other.test", "admin", other.account_id),
        ):
            await create_user(
                session, email=email, password=PASSWORD, role=role, account_id=account
            )
        for email, affiliate in (("ada@acme.test", ada), ("bob@acme.test", bob)):
            await create_affiliate_user(
                session,
                email=email,
                password=PASSWORD,
                account_id=world.acme.account_id,
                affiliate_id=affiliate["id"],
            )
    auth = {
        "admin": await _token(world, "admin@acme.test"),
        "manager": await _token(world, "manager@acme.test"),
        "ada": await _token(world, "ada@acme.test"),
        "bob": await _token(world, "bob@acme.test"),
        "stranger": await _token(world, "root@other.test"),
        "key": world.acme.auth,
    }
    return Setup(
        world, auth, ada, bob, ada_payee, ids[0], ids[1], batch["id"],
        payouts[ada["id"]], payouts[bob["id"]], other,
    )  # fmt: skip


Call = Callable[[Setup, str], Awaitable[tuple[str, str, dict[str, Any] | None]]]


def op(method: str, path: str, body: Any = None) -> Call:
    """A call whose path names the setup's objects (``{s.ada[id]}``); ``body`` may be a
    function of the setup and the role (a fresh object per call)."""

    async def call(s: Setup, role: str) -> tuple[str, str, dict[str, Any] | None]:
        made = body(s, role) if callable(body) else body
        if isinstance(made, Awaitable):
            made = await made
        return method, path.format(s=s), made

    return call


async def _fresh_pending(s: Setup, role: str) -> tuple[str, str, None]:
    """Approving: a pending commission of Ada's per caller (the admin's approval would make
    the manager's a 409)."""
    commission = await s.pending_commission(s.ada)
    return "POST", f"/v1/commissions/{commission}/approve", None


async def _approve_bulk(s: Setup, role: str) -> tuple[str, str, dict[str, Any]]:
    return "POST", "/v1/commissions/approve", {"ids": [await s.pending_commission(s.ada)]}


def _new_affiliate(s: Setup, role: str) -> dict[str, Any]:
    code = f"new{next(_serial)}"
    return {"code": code, "name": "New", "email": f"{code}@example.test"}


A, M, ADA, BOB, STRANGER, KEY = ROLES
Want = int | tuple[int, str]
OK_FOR_ALL: dict[str, Want] = dict.fromkeys(ROLES, 200)
# What each role gets from each payout operation (the code, where refused).
MATRIX: list[tuple[str, Call, dict[str, Want]]] = [
    ("create affiliate", op("POST", "/v1/affiliates", _new_affiliate),
     {A: 201, M: 201, ADA: (403, "affiliate_not_permitted"),
      BOB: (403, "affiliate_not_permitted"), STRANGER: 201, KEY: 201}),
    ("list affiliates", op("GET", "/v1/affiliates"), OK_FOR_ALL),
    ("retrieve affiliate", op("GET", "/v1/affiliates/{s.ada[id]}"),
     {A: 200, M: 200, ADA: 200, BOB: 404, STRANGER: 404, KEY: 200}),
    ("update affiliate", op("POST", "/v1/affiliates/{s.ada[id]}", {"name": "Ada L."}),
     {A: 200, M: 200, ADA: (403, "affiliate_not_permitted"), BOB: 404, STRANGER: 404,
      KEY: 200}),
    ("update preferences",
     op("POST", "/v1/affiliates/{s.ada[id]}", {"schedule": "weekly", "schedule_time": "09:00"}),
     {A: 200, M: 200, ADA: 200, BOB: 404, STRANGER: 404, KEY: 200}),
    ("create payee", op("POST", "/v1/affiliates/{s.ada[id]}/payees", {}),
     {A: 201, M: 201, ADA: (403, "affiliate_not_permitted"), BOB: 404, STRANGER: 404,
      KEY: 201}),
    ("list payees", op("GET", "/v1/affiliates/{s.ada[id]}/payees"),
     {A: 200, M: 200, ADA: 200, BOB: 404, STRANGER: 404, KEY: 200}),
    ("invite payee", op("POST", "/v1/affiliates/{s.ada[id]}/payees/{s.ada_payee[id]}/invite"),
     {A: 200, M: 200, ADA: (403, "affiliate_not_permitted"), BOB: 404, STRANGER: 404,
      KEY: 200}),
    ("sync payee", op("POST", "/v1/affiliates/{s.ada[id]}/payees/{s.ada_payee[id]}/sync"),
     {A: 200, M: 200, ADA: (403, "affiliate_not_permitted"), BOB: 404, STRANGER: 404,
      KEY: 200}),
    ("subscription event",
     op("POST", "/v1/subscription_events", lambda s, r: event("ada", "10.00")),
     {A: 201, M: 201, ADA: (403, "affiliate_not_permitted"),
      BOB: (403, "affiliate_not_permitted"), STRANGER: (400, "affiliate_unknown"), KEY: 201}),
    ("list commissions", op("GET", "/v1/commissions"), OK_FOR_ALL),
    ("export commissions", op("GET", "/v1/commissions/export"), OK_FOR_ALL),
    ("approve in bulk", _approve_bulk,
     {A: 200, M: 200, ADA: (403, "affiliate_not_permitted"),
      BOB: (403, "affiliate_not_permitted"), STRANGER: 404, KEY: 200}),
    ("retrieve commission", op("GET", "/v1/commissions/{s.ada_commission}"),
     {A: 200, M: 200, ADA: 200, BOB: 404, STRANGER: 404, KEY: 200}),
    ("approve commission", _fresh_pending,
     {A: 200, M: 200, ADA: (403, "affiliate_not_permitted"), BOB: 404, STRANGER: 404,
      KEY: 200}),
    ("preview", op("GET", "/v1/payout_batches/preview"), OK_FOR_ALL),
    ("create batches", op("POST", "/v1/payout_batches", {}),
     {A: 201, M: (403, "insufficient_role"), ADA: (403, "affiliate_not_permitted"),
      BOB: (403, "affiliate_not_permitted"), STRANGER: 201, KEY: 201}),
    ("list batches", op("GET", "/v1/payout_batches"),
     {A: 200, M: 200, ADA: (403, "affiliate_not_permitted"),
      BOB: (403, "affiliate_not_permitted"), STRANGER: 200, KEY: 200}),
    ("retrieve batch", op("GET", "/v1/payout_batches/{s.batch}"),
     {A: 200, M: 200, ADA: 404, BOB: 404, STRANGER: 404, KEY: 200}),
    ("list payouts", op("GET", "/v1/payouts"), OK_FOR_ALL),
    ("export payouts", op("GET", "/v1/payouts/export"), OK_FOR_ALL),
]  # fmt: skip
# Last, and the admin last of all: cancelling consumes the batch (the key's cancel is
# test_batches'); everyone else is refused before anything changes.
CANCEL: tuple[Call, dict[str, Want]] = (
    op("POST", "/v1/payout_batches/{s.batch}/cancel"),
    {M: (403, "insufficient_role"), ADA: 404, BOB: 404, STRANGER: 404, A: 200},
)


async def test_every_payout_operation_as_every_role(setup: Setup) -> None:
    s = setup
    wrong = []
    for name, call, expected in [*MATRIX, ("cancel batch", *CANCEL)]:
        for role, want in expected.items():
            method, path, body = await call(s, role)
            response = await s.world.client.request(method, path, json=body, headers=s.auth[role])
            status, code = want if isinstance(want, tuple) else (want, None)
            got = response.json().get("code") if response.status_code >= 400 else None
            if response.status_code != status or (code and got != code):
                wrong.append(f"{name} as {role}: {response.status_code} {response.text[:160]}")
            elif status == 404 and got != "resource_missing":
                wrong.append(f"{name} as {role}: 404 with {got}")
    assert wrong == []
    cancelled = await s.world.get(f"/v1/payout_batches/{s.batch}")
    assert cancelled["status"] == "cancelled"  # only the admin's cancel went through


async def _rows(s: Setup, role: str, path: str) -> list[dict[str, str]]:
    response = await s.world.client.get(path, headers=s.auth[role])
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_an_affiliate_sees_only_its_own_records(setup: Setup) -> None:
    s = setup
    client = s.world.client
    for role, mine, theirs in (("ada", s.ada, s.bob), ("bob", s.bob, s.ada)):
        auth = s.auth[role]
        listed = (await client.get("/v1/affiliates", headers=auth)).json()["data"]
        assert [a["id"] for a in listed] == [mine["id"]]
        commissions = (await client.get("/v1/commissions", headers=auth)).json()["data"]
        assert {c["affiliate_id"] for c in commissions} == {mine["id"]}
        # naming the other affiliate in a filter finds nothing rather than its rows
        filtered = await client.get(
            "/v1/commissions", headers=auth, params={"affiliate_id": theirs["id"]}
        )
        assert filtered.json()["data"] == []
        payouts = (await client.get("/v1/payouts", headers=auth)).json()["data"]
        assert [p["affiliate_id"] for p in payouts] == [mine["id"]]
        assert payouts[0]["id"] == (s.ada_payout if role == "ada" else s.bob_payout)
        exported = await _rows(s, role, "/v1/commissions/export")
        assert {r["affiliate_id"] for r in exported} == {mine["id"]}
        exported = await _rows(s, role, f"/v1/payouts/export?affiliate_id={theirs['id']}")
        assert exported == []
        preview = (await client.get("/v1/payout_batches/preview", headers=auth)).json()
        assert {d["affiliate_id"] for d in preview["payable"] + preview["held_back"]} <= {
            mine["id"]
        }
        # the rest of the account is not theirs to read at all
        for path in ("/v1/payments", "/v1/account", "/v1/events"):
            denied = await client.get(path, headers=auth)
            assert denied.status_code == 403, (path, denied.text)
            assert denied.json()["code"] == "insufficient_scope"
    admin_rows = await _rows(s, "manager", "/v1/payouts/export")
    assert {r["payout_id"] for r in admin_rows} == {s.ada_payout, s.bob_payout}
    stranger = await _rows(s, "stranger", "/v1/payouts/export")
    assert stranger == []


async def test_an_affiliate_updates_only_its_payout_preferences(setup: Setup) -> None:
    s = setup
    client, path, auth = s.world.client, f"/v1/affiliates/{s.ada['id']}", s.auth["ada"]
    updated = await client.post(
        path,
        headers=auth,
        json={
            "minimum_payout": {"value": "120.00", "currency": "USD"},
            "schedule": "monthly",
            "schedule_time": "08:30",
            "schedule_timezone": "Europe/Berlin",
        },
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["minimum_payout"] == {"value": "120.00", "currency": "USD"}
    assert (body["schedule"], body["schedule_time"], body["schedule_timezone"]) == (
        "monthly", "08:30", "Europe/Berlin",
    )  # fmt: skip
    for change in ({"rate_bps": 9000}, {"status": "active"}, {"tier_rates": {"pro": 9000}},
                   {"email": "me@evil.test"}, {"recurring": True}, {"metadata": {"a": "b"}},
                   {"schedule": "daily", "rate_bps": 10}):  # fmt: skip
        refused = await client.post(path, headers=auth, json=change)
        assert refused.status_code == 403, (change, refused.text)
        assert refused.json()["code"] == "affiliate_not_permitted"
    for minimum in ("1.00", "5000.01"):  # the install's 50.00, up to 100 times it
        low = await client.post(
            path, headers=auth, json={"minimum_payout": {"value": minimum, "currency": "USD"}}
        )
        assert low.status_code == 400 and low.json()["param"] == "minimum_payout", low.text
    other_currency = await client.post(
        path, headers=auth, json={"minimum_payout": {"value": "100.00", "currency": "EUR"}}
    )
    assert other_currency.status_code == 400
    # a name too long for a file name is no database outage: 400, not 503
    for zone in ("Mars/Base", "x" * 300, "Europe/" + "y" * 5000):
        bad_zone = await client.post(path, headers=auth, json={"schedule_timezone": zone})
        assert bad_zone.status_code == 400, bad_zone.text
        assert bad_zone.json()["param"] == "schedule_timezone"
    after = await s.world.get(path)
    assert after["rate_bps"] == 1000 and after["email"] == "ada@example.test"
    assert after["minimum_payout"]["value"] == "120.00"


async def test_affiliate_users_are_linked_to_one_affiliate_of_their_account(
    setup: Setup, db: Backend
) -> None:
    s = setup
    async with transaction(db.sessions) as session:
        with pytest.raises(InvalidRequest):  # an affiliate user names its affiliate
            await create_user(
                session,
                email="x@acme.test",
                password=PASSWORD,
                role="affiliate",
                account_id=s.world.acme.account_id,
            )
    async with transaction(db.sessions) as session:
        with pytest.raises(NotFound):  # another account's affiliate is not found
            await create_affiliate_user(
                session,
                email="y@other.test",
                password=PASSWORD,
                account_id=s.other.account_id,
                affiliate_id=s.ada["id"],
            )
    async with transaction(db.sessions) as session:
        with pytest.raises(InvalidRequest):  # only affiliates are linked
            await create_user(
                session,
                email="z@acme.test",
                password=PASSWORD,
                role="manager",
                account_id=s.world.acme.account_id,
                affiliate_id=s.ada["id"],
            )
    # an affiliate user from before links existed (or edited in the database) cannot sign in
    async with transaction(db.sessions) as session:
        ada_user = await session.scalar(select(User).where(User.email == "ada@acme.test"))
        assert ada_user is not None
        session.add(
            User(
                id=new_id("usr"),
                account_id=s.world.acme.account_id,
                email="old@acme.test",
                password_hash=ada_user.password_hash,
                role="affiliate",
                affiliate_id=None,
                created_at=ada_user.created_at,
            )
        )
    refused = await s.world.client.post(
        "/v1/auth/token", json={"email": "old@acme.test", "password": PASSWORD}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "affiliate_not_linked"


async def test_a_live_affiliate_signs_in_to_live_mode(world: World, db: Backend) -> None:
    live = await merchant(db.sessions, livemode=True)
    made = await world.client.post(
        "/v1/affiliates",
        headers=live.auth,
        json={"code": "liv", "name": "Liv", "email": "liv@example.test"},
    )
    assert made.status_code == 201
    async with transaction(db.sessions) as session:
        await create_affiliate_user(
            session,
            email="liv@live.test",
            password=PASSWORD,
            account_id=live.account_id,
            affiliate_id=made.json()["id"],
        )
    auth = await _token(world, "liv@live.test")
    mine = await world.client.get(f"/v1/affiliates/{made.json()['id']}", headers=auth)
    assert mine.status_code == 200 and mine.json()["livemode"] is True


async def test_kassa_user_create_links_an_affiliate(
    world: World, db: Backend, tmp_path: Path
) -> None:
    ada = await world.affiliate("ada")
    env = kassa_env(
        KASSA_DATABASE_URL=db.url,
        KASSA_VAR_DIR=str(tmp_path),
        KASSA_SECRET_KEY="s" * 40,
        KASSA_NEW_USER_PASSWORD=PASSWORD,
    )
    account = ("--account", world.acme.account_id)
    made = run_kassa(
        "user", "create", "--email", "ada@acme.test", "--role", "affiliate", *account,
        "--affiliate", ada["id"], env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"created affiliate of {ada['id']} ada@acme.test" in made.stdout
    unlinked = run_kassa(
        "user", "create", "--email", "x@acme.test", "--role", "affiliate", *account, env=env
    )
    assert unlinked.returncode == 1 and "linked to one affiliate" in unlinked.stderr
    foreign = run_kassa(
        "user", "create", "--email", "y@acme.test", "--role", "affiliate", *account,
        "--affiliate", "aff_00000000000000000000000000", env=env,
    )  # fmt: skip
    assert foreign.returncode == 1 and "No such affiliate" in foreign.stderr
    auth = await _token(world, "ada@acme.test")
    mine = await world.client.get("/v1/commissions", headers=auth)
    assert mine.status_code == 200
