"""Stablecoin payment sessions end to end on a real EVM node: the API creates a session with
a unique exact amount, the customer pays on chain, the monitor records the transfer, the
session confirms and completes, and events go out; late payments, re-orgs, expiry, reported
transactions and another account's ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kassa.chain.config import chains_of
from kassa.chain.monitor import run_monitor
from kassa.chain.nodes import NodePool
from kassa.jobs.models import Event
from kassa.jobs.worker import Worker
from kassa.payins.sessions.models import SessionQuote
from tests.chain.conftest import Chain as Devchain
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.openapi_conformance import api_transport

CONFIRMATIONS = 3


@dataclass
class World:
    db: Backend
    dev: Devchain
    http: httpx.AsyncClient
    acme: Merchant
    pool: NodePool
    worker: Worker

    async def post(self, path: str, who: Merchant | None = None, **body: Any) -> httpx.Response:
        return await self.http.post(f"/v1{path}", json=body, headers=(who or self.acme).auth)

    async def get(self, path: str, who: Merchant | None = None) -> httpx.Response:
        return await self.http.get(f"/v1{path}", headers=(who or self.acme).auth)

    async def settle(self) -> None:
        """The monitor scans, then the worker runs what it handed over."""
        chain = self.pool.chain
        await run_monitor(self.db.sessions, self.pool, chain, owner="test")
        await self.worker.run_due()

    async def pay(self, units: int | str, to: str | None = None) -> str:
        tx = await self.dev.node.transfer(
            self.dev.token, self.dev.payer, to or self.dev.merchant, int(units)
        )
        await self.dev.node.receipt(tx)
        return tx

    async def session(self, price: str = "12.34", **extra: Any) -> dict[str, Any]:
        response = await self.post(
            "/payment_sessions", amount={"value": price, "currency": "USD"}, **extra
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def events(self, type_: str) -> list[Event]:
        async with self.db.sessions() as s:
            return list(await s.scalars(select(Event).where(Event.type == type_)))


@pytest.fixture
async def world(chain: Devchain, db: Backend, tmp_path: Path) -> AsyncIterator[World]:
    from kassa.api.app import create_app

    config = {
        "local": {
            "chain_id": chain.node.chain_id,
            "rpc_urls": [chain.node.url],
            "confirmations": CONFIRMATIONS,
            "start_block": 0,
            "tokens": {"USDC": {"address": chain.token, "decimals": 6}},
        }
    }
    settings = db.settings(tmp_path, chains=config)
    app = create_app(settings)
    pool = NodePool(chains_of(settings)["local"], timeout=5, max_lag=5)
    acme = await merchant(db.sessions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as http,
    ):
        world = World(db, chain, http, acme, pool, Worker(db.sessions, schedules={}))
        added = await world.post("/receiving_addresses", chain="local", address=chain.merchant)
        assert added.status_code == 201, added.text
        yield world
    await pool.aclose()


async def test_a_session_is_paid_on_chain_confirmed_and_completed(world: World) -> None:
    first = await world.session()
    second = await world.session()  # the same price: another exact amount
    [q1], [q2] = first["quotes"], second["quotes"]
    assert (q1["amount"], q2["amount"]) == ("12340000", "12340001")
    assert q2["amount_text"] == "12.340001" and q2["to_address"] == world.dev.merchant
    assert q2["payment_link"] == (
        f"ethereum:{world.dev.token}@{world.dev.node.chain_id}/transfer"
        f"?address={world.dev.merchant}&uint256=12340001"
    )
    tx = await world.pay(q2["amount"])
    await world.settle()
    confirming = (await world.get(f"/payment_sessions/{second['id']}")).json()
    assert confirming["status"] == "confirming" and confirming["tx_hash"] == tx
    assert [t["tx_hash"] for t in confirming["transfers"]] == [tx]
    await world.dev.node.mine(CONFIRMATIONS)
    await world.settle()
    done = (await world.get(f"/payment_sessions/{second['id']}")).json()
    assert done["status"] == "completed" and done["outcome"] == "paid"
    assert done["confirmed_at"] is not None
    assert (await world.get(f"/payment_sessions/{first['id']}")).json()["status"] == "pending"
    [completed] = await world.events("payment_session.completed")
    assert completed.data["id"] == second["id"] and completed.data["tx_hash"] == tx
    assert len(await world.events("payment_session.confirming")) == 1
    third = await world.session()  # the completed session's amount is free again
    assert third["quotes"][0]["amount"] == "12340001"


async def test_concurrent_sessions_at_one_price_each_get_their_own_amount(world: World) -> None:
    """64 sessions at one price (the benchmark's clients; more than the smallest amounts
    looked up first), created at once: each asks for another exact amount, every one within
    a cent of the price, and the database holds each amount once."""
    sessions = await asyncio.gather(*(world.session("5.00") for _ in range(64)))
    amounts = [int(s["quotes"][0]["amount"]) for s in sessions]
    assert len(set(amounts)) == 64
    async with world.db.sessions() as s:
        stored = list(await s.scalars(select(SessionQuote.units)))
    assert sorted(map(int, stored)) == sorted(amounts)
    assert all(5_000_000 <= a < 5_010_000 for a in amounts)
    # One paid with its exact amount binds to that session alone.
    chosen = sessions[-1]
    tx = await world.pay(chosen["quotes"][0]["amount"])
    await world.settle()
    paid = (await world.get(f"/payment_sessions/{chosen['id']}")).json()
    assert paid["status"] == "confirming" and paid["tx_hash"] == tx
    others = [(await world.get(f"/payment_sessions/{s['id']}")).json() for s in sessions[:-1]]
    assert {o["status"] for o in others} == {"pending"}


async def test_too_little_and_too_much_are_recorded_never_completed_silently(
    world: World,
) -> None:
    short = await world.session("10.00")
    tx = await world.pay(9_000_000)  # 9.00 of 10.00: matches no exact amount ...
    await world.dev.node.mine(CONFIRMATIONS)
    await world.settle()
    assert (await world.get(f"/payment_sessions/{short['id']}")).json()["transfers"] == []
    reported = await world.post(f"/payment_sessions/{short['id']}/transactions", tx_hash=tx)
    assert reported.status_code == 200, reported.text  # ... until its hash is reported
    await world.worker.run_due()
    partial = (await world.get(f"/payment_sessions/{short['id']}")).json()
    assert partial["status"] == "pending" and partial["outcome"] == "paid_partial"
    over = await world.session("5.00")
    tx2 = await world.pay(7_500_000)
    await world.post(f"/payment_sessions/{over['id']}/transactions", tx_hash=tx2)
    await world.dev.node.mine(CONFIRMATIONS)
    await world.settle()
    paid = (await world.get(f"/payment_sessions/{over['id']}")).json()
    assert paid["status"] == "completed" and paid["outcome"] == "paid_over"


async def test_a_payment_after_expiry_is_recorded_late(world: World) -> None:
    late = await world.session("3.00", expires_in=60)
    expired = await world.post(f"/payment_sessions/{late['id']}/expire")
    assert expired.status_code == 200 and expired.json()["status"] == "expired"
    assert len(await world.events("payment_session.expired")) == 1
    await world.dev.node.rpc.call("evm_increaseTime", 5)  # blocks tell time by the second
    await world.pay(late["quotes"][0]["amount"])
    await world.dev.node.mine(CONFIRMATIONS)
    await world.settle()
    body = (await world.get(f"/payment_sessions/{late['id']}")).json()
    assert body["status"] == "expired" and body["outcome"] == "paid_late"
    assert len(await world.events("payment_session.paid_late")) == 1


async def test_a_completed_session_reorged_out_is_reversed(world: World) -> None:
    paid = await world.session("2.00")
    snapshot = await world.dev.node.rpc.call("evm_snapshot")
    await world.pay(paid["quotes"][0]["amount"])
    await world.dev.node.mine(CONFIRMATIONS)
    await world.settle()
    assert (await world.get(f"/payment_sessions/{paid['id']}")).json()["status"] == "completed"
    await world.dev.node.rpc.call("evm_revert", snapshot)
    await world.dev.node.mine(CONFIRMATIONS + 2)
    await world.settle()
    body = (await world.get(f"/payment_sessions/{paid['id']}")).json()
    assert body["status"] == "pending" and body["outcome"] is None
    assert [t["status"] for t in body["transfers"]] == ["reorged"]
    assert len(await world.events("payment_session.reversed")) == 1


async def test_sessions_need_an_address_and_stay_the_accounts_own(world: World) -> None:
    other = await merchant(world.db.sessions, "Other")
    refused = await world.post(
        "/payment_sessions", other, amount={"value": "1.00", "currency": "USD"}
    )
    assert refused.status_code == 400 and refused.json()["code"] == "no_receiving_address"
    mine = await world.session()
    assert (await world.get(f"/payment_sessions/{mine['id']}", other)).status_code == 404
    assert (await world.post(f"/payment_sessions/{mine['id']}/expire", other)).status_code == 404
    taken = await world.post(
        "/receiving_addresses", other, chain="local", address=world.dev.merchant
    )
    assert taken.status_code == 409 and taken.json()["code"] == "receiving_address_taken"
    euros = await world.post("/payment_sessions", amount={"value": "1.00", "currency": "EUR"})
    assert euros.status_code == 400
    unknown = await world.post(
        "/payment_sessions", amount={"value": "1.00", "currency": "USD"}, chains=["mars"]
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "chain_not_configured"
    typo = await world.post(
        "/receiving_addresses", chain="local", address="0x8Ba1f109551bD432803012645Ac136ddd64DBA72"
    )
    assert typo.status_code == 400 and "checksum" in typo.json()["detail"]
