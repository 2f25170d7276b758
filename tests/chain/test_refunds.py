"""Refunds of stablecoin sessions from a hot wallet, on a real EVM node (anvil): to
confirmation; partial refunds up to what was received; waiting while the fee is above the
maximum; a stuck transaction replaced with a higher fee; nonces of two workers at once; a
crash between intent and send; a wallet without funds or gas; the key never logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import select

from kassa.chain.abi import call_data
from kassa.chain.config import chains_of
from kassa.chain.monitor import run_monitor
from kassa.chain.nodes import NodePool
from kassa.chain.rpc import hex_int
from kassa.jobs.models import Event, Job
from kassa.jobs.worker import Worker
from kassa.payins.sessions.refund_models import SessionRefund
from kassa.payins.sessions.refund_send import RefundConfig, RefundSender
from tests.chain.conftest import Chain as Devchain
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.openapi_conformance import api_transport

CONFIRMATIONS = 3
ETHER = 10**18


@dataclass
class World:
    db: Backend
    dev: Devchain
    http: httpx.AsyncClient
    acme: Merchant
    pool: NodePool
    worker: Worker
    sender: RefundSender
    wallet: str
    key: str

    async def post(self, path: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"/v1{path}", json=body, headers=self.acme.auth)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(f"/v1{path}", headers=self.acme.auth)

    async def settle(self) -> None:
        await run_monitor(self.db.sessions, self.pool, self.pool.chain, owner="test")
        await self.worker.run_due()

    async def balance(self, who: str) -> int:
        data = call_data("balanceOf(address)", ["address"], [who])
        return int(
            await self.dev.node.rpc.call("eth_call", {"to": self.dev.token, "data": data}), 16
        )

    async def paid_session(self, price: str = "10.00", extra_units: int = 0) -> dict[str, Any]:
        created = await self.post("/payment_sessions", amount={"value": price, "currency": "USD"})
        assert created.status_code == 201, created.text
        units = int(created.json()["quotes"][0]["amount"]) + extra_units
        tx = await self.dev.node.transfer(self.dev.token, self.dev.payer, self.dev.merchant, units)
        await self.dev.node.receipt(tx)
        await self.dev.node.mine(CONFIRMATIONS)
        await self.settle()
        body = (await self.get(f"/payment_sessions/{created.json()['id']}")).json()
        assert body["status"] == "completed", body
        return dict(body)

    async def refund(self, session_id: str, **body: Any) -> httpx.Response:
        return await self.post(f"/payment_sessions/{session_id}/refunds", **body)

    async def row(self, refund_id: str) -> SessionRefund:
        async with self.db.sessions() as s:
            found = await s.get(SessionRefund, refund_id)
            assert found is not None
            return found

    async def jobs(self, name: str) -> list[Job]:
        async with self.db.sessions() as s:
            return list(await s.scalars(select(Job).where(Job.name == name)))


async def _world(
    chain: Devchain, db: Backend, tmp_path: Path, *, fund: bool = True, **overrides: Any
) -> AsyncIterator[World]:
    from kassa.api.app import create_app

    account = Account.create()
    key = "0x" + bytes(account.key).hex()
    wallet = str(account.address).lower()
    if fund:
        await chain.node.rpc.call("anvil_setBalance", wallet, hex(10 * ETHER))
        await chain.node.receipt(await chain.node.mint(chain.token, wallet, 1_000 * 10**6))
    config = {
        "local": {
            "chain_id": chain.node.chain_id,
            "rpc_urls": [chain.node.url],
            "confirmations": CONFIRMATIONS,
            "start_block": 0,
            "tokens": {"USDC": {"address": chain.token, "decimals": 6}},
        }
    }
    settings = db.settings(tmp_path, chains=config, hot_wallet_private_key=key, **overrides)
    app = create_app(settings)
    pool = NodePool(chains_of(settings)["local"], timeout=5, max_lag=5)
    sender = RefundSender(RefundConfig.from_settings(settings), {"local": pool})
    acme = await merchant(db.sessions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as http,
    ):
        world = World(
            db, chain, http, acme, pool, Worker(db.sessions, schedules={}), sender, wallet, key
        )
        added = await world.post("/receiving_addresses", chain="local", address=chain.merchant)
        assert added.status_code == 201, added.text
        yield world
    await pool.aclose()


@pytest.fixture
async def world(chain: Devchain, db: Backend, tmp_path: Path) -> AsyncIterator[World]:
    async for w in _world(chain, db, tmp_path):
        yield w


async def test_a_full_refund_goes_back_to_the_payer_and_is_confirmed(world: World) -> None:
    paid = await world.paid_session("10.00")
    before = await world.balance(world.dev.payer)
    created = await world.refund(paid["id"])
    assert created.status_code == 201, created.text
    refund = created.json()
    assert refund["status"] == "pending" and refund["id"].startswith("psr_")
    assert refund["to_address"] == world.dev.payer
    assert refund["units"] == paid["quotes"][0]["amount"]  # every unit, the offset too
    assert refund["amount"] == {"value": "10.00", "currency": "USD"}
    assert await world.sender.advance(world.db.sessions, refund["id"]) == "submitted"
    await world.dev.node.mine(CONFIRMATIONS)
    assert await world.sender.advance(world.db.sessions, refund["id"]) == "confirmed"
    assert await world.balance(world.dev.payer) == before + int(refund["units"])
    [listed] = (await world.get(f"/payment_sessions/{paid['id']}/refunds")).json()["data"]
    assert listed["status"] == "confirmed" and listed["confirmations"] >= CONFIRMATIONS
    assert listed["from_address"] == world.wallet and listed["nonce"] == 0
    assert int(listed["fee_paid"]) > 0 and listed["attempts"] == 1
    session = (await world.get(f"/payment_sessions/{paid['id']}")).json()
    assert session["status"] == "refunded"
    async with world.db.sessions() as s:
        [event] = await s.scalars(select(Event).where(Event.type == "payment_session.refunded"))
    assert event.data["status"] == "refunded" and event.data["refund"]["id"] == refund["id"]
    # The wallet held 1,000 USDC, the threshold: now less, and its account is told.
    [low] = await world.jobs("webhooks.email")
    assert low.args["account_id"] == world.acme.account_id
    assert "low" in low.args["subject"] and "USDC" in low.args["body"]
    # Scanning again (transfers unchanged) leaves the session refunded.
    await world.dev.node.mine(1)
    await world.settle()
    assert (await world.get(f"/payment_sessions/{paid['id']}")).json()["status"] == "refunded"


async def test_partial_refunds_up_to_what_was_received_then_refused(world: World) -> None:
    paid = await world.paid_session("10.00")
    first = await world.refund(paid["id"], amount={"value": "4.00", "currency": "USD"})
    assert first.status_code == 201 and first.json()["units"] == "4000000"
    seed_shape = await world.post(
        "/refunds", payment_id=paid["id"], amount={"value": "6.00", "currency": "USD"}
    )
    assert seed_shape.status_code == 201, seed_shape.text
    over = await world.refund(paid["id"], amount={"value": "0.01", "currency": "USD"})
    assert over.status_code == 400 and over.json()["code"] == "refund_exceeds_received"
    # Concurrent requests for the rest of a session never both get it.
    again = await world.paid_session("5.00")
    racing = await asyncio.gather(
        *(world.refund(again["id"], amount={"value": "3.00", "currency": "USD"}) for _ in range(2))
    )
    assert sorted(r.status_code for r in racing) == [201, 400]
    for refund in (first.json(), seed_shape.json()):
        await world.sender.advance(world.db.sessions, refund["id"])
    await world.dev.node.mine(CONFIRMATIONS)
    await world.sender.advance(world.db.sessions, first.json()["id"])
    partly = (await world.get(f"/payment_sessions/{paid['id']}")).json()
    assert partly["status"] == "partially_refunded"
    await world.sender.advance(world.db.sessions, seed_shape.json()["id"])
    assert (await world.get(f"/payment_sessions/{paid['id']}")).json()["status"] == "refunded"
    pending = await world.post("/payment_sessions", amount={"value": "1.00", "currency": "USD"})
    refused = await world.refund(pending.json()["id"])
    assert refused.status_code == 400 and refused.json()["code"] == "session_not_refundable"
    # Paid in part and still open: refused, and the reason does not claim nothing was paid.
    short = await world.post("/payment_sessions", amount={"value": "10.00", "currency": "USD"})
    tx = await world.dev.node.transfer(
        world.dev.token, world.dev.payer, world.dev.merchant, 4_000_000
    )
    await world.dev.node.receipt(tx)
    reported = await world.post(f"/payment_sessions/{short.json()['id']}/transactions", tx_hash=tx)
    assert reported.status_code == 200, reported.text
    await world.dev.node.mine(CONFIRMATIONS)
    await world.settle()
    partial = (await world.get(f"/payment_sessions/{short.json()['id']}")).json()
    assert (partial["status"], partial["outcome"]) == ("pending", "paid_partial"), partial
    refused = await world.refund(partial["id"])
    assert refused.status_code == 400 and refused.json()["code"] == "session_not_refundable"
    assert "nothing" not in refused.json()["detail"]
    assert "expired one paid late or in part" in refused.json()["detail"]


async def test_a_refund_waits_while_the_fee_is_above_the_maximum(
    chain: Devchain, db: Backend, tmp_path: Path
) -> None:
    async for world in _world(chain, db, tmp_path, refund_max_fee_gwei="5"):
        paid = await world.paid_session("2.00")
        refund = (await world.refund(paid["id"])).json()
        await world.dev.node.rpc.call("anvil_setNextBlockBaseFeePerGas", hex(50 * 10**9))
        await world.dev.node.mine(1)  # a block at 50 gwei: the next one's is about as high
        assert await world.sender.advance(world.db.sessions, refund["id"]) == "pending"
        waiting = await world.row(refund["id"])
        assert waiting.raw_tx is None and "above the maximum" in (waiting.waiting_reason or "")
        await world.dev.node.rpc.call("anvil_setNextBlockBaseFeePerGas", hex(10**9))
        await world.dev.node.mine(1)
        assert await world.sender.advance(world.db.sessions, refund["id"]) == "submitted"
        sent = await world.row(refund["id"])
        assert sent.waiting_reason is None and int(sent.max_fee_per_gas or 0) <= 5 * 10**9


async def test_a_stuck_refund_is_replaced_with_a_higher_fee(world: World) -> None:
    paid = await world.paid_session("3.00")
    refund = (await world.refund(paid["id"])).json()
    await world.dev.node.rpc.call("evm_setAutomine", False)
    try:
        assert await world.sender.advance(world.db.sessions, refund["id"]) == "submitted"
        first = await world.row(refund["id"])
        # Nothing mines it (a node that dropped it, or a fee too low for a busy chain).
        await world.dev.node.rpc.call("anvil_dropTransaction", first.tx_hash)
        await world.dev.node.mine(world.sender.config.stuck_blocks)
        await world.sender.advance(world.db.sessions, refund["id"])
        second = await world.row(refund["id"])
        assert second.attempts == 2 and second.nonce == first.nonce
        assert second.tx_hash != first.tx_hash
        assert int(second.max_fee_per_gas or 0) * 100 >= int(first.max_fee_per_gas or 0) * 110
        assert int(second.max_priority_fee_per_gas or 0) * 100 >= (
            int(first.max_priority_fee_per_gas or 0) * 110
        )
    finally:
        await world.dev.node.rpc.call("evm_setAutomine", True)
    await world.dev.node.mine(CONFIRMATIONS)
    assert await world.sender.advance(world.db.sessions, refund["id"]) == "confirmed"
    done = await world.row(refund["id"])
    assert done.tx_hash == second.tx_hash and done.tx_hashes.split() == [
        first.tx_hash,
        second.tx_hash,
    ]


async def test_two_workers_sending_refunds_at_once_take_distinct_nonces(world: World) -> None:
    refunds = []
    for price in ("1.00", "2.00", "3.00", "4.00"):
        paid = await world.paid_session(price)
        refunds.append((await world.refund(paid["id"])).json()["id"])
    pool_b = NodePool(world.pool.chain, timeout=5, max_lag=5)
    other = RefundSender(world.sender.config, {"local": pool_b})  # a second worker
    try:
        await asyncio.gather(
            *(
                (world.sender if i % 2 else other).advance(world.db.sessions, refund_id)
                for i, refund_id in enumerate(refunds)
            ),
            # and both workers on the same refund: one transaction, never two
            world.sender.advance(world.db.sessions, refunds[0]),
        )
    finally:
        await pool_b.aclose()
    rows = [await world.row(r) for r in refunds]
    assert sorted(r.nonce for r in rows if r.nonce is not None) == [0, 1, 2, 3]
    assert all(r.attempts == 1 for r in rows)
    count = await world.dev.node.rpc.call("eth_getTransactionCount", world.wallet, "latest")
    assert hex_int(count) == 4  # every nonce used once: no gap, no duplicate
    await world.dev.node.mine(CONFIRMATIONS)
    for refund_id in refunds:
        assert await world.sender.advance(world.db.sessions, refund_id) == "confirmed"


async def test_a_crash_between_intent_and_send_resends_the_same_transaction(
    world: World,
) -> None:
    paid = await world.paid_session("5.00")
    refund = (await world.refund(paid["id"])).json()

    async def crash(_: SessionRefund) -> None:
        raise SystemExit("the worker died")

    world.sender.before_send = crash
    with pytest.raises(SystemExit):
        await world.sender.advance(world.db.sessions, refund["id"])
    world.sender.before_send = None
    intent = await world.row(refund["id"])
    assert intent.status == "pending" and intent.raw_tx is not None and intent.nonce == 0
    count = await world.dev.node.rpc.call("eth_getTransactionCount", world.wallet, "latest")
    assert hex_int(count) == 0  # nothing went out
    assert await world.sender.advance(world.db.sessions, refund["id"]) == "submitted"
    sent = await world.row(refund["id"])
    assert (sent.raw_tx, sent.tx_hash, sent.attempts) == (intent.raw_tx, intent.tx_hash, 1)
    receipt = await world.dev.node.receipt(intent.tx_hash or "")
    assert receipt["status"] == "0x1"
    count = await world.dev.node.rpc.call("eth_getTransactionCount", world.wallet, "latest")
    assert hex_int(count) == 1


async def test_a_wallet_without_funds_or_gas_fails_with_the_reason_and_an_alert(
    chain: Devchain, db: Backend, tmp_path: Path
) -> None:
    async for world in _world(chain, db, tmp_path, fund=False):
        paid = await world.paid_session("2.00")
        refund = (await world.refund(paid["id"])).json()
        assert await world.sender.advance(world.db.sessions, refund["id"]) == "failed"
        failed = (await world.get(f"/payment_sessions/{paid['id']}/refunds")).json()["data"][0]
        assert "holds 0.000000 USDC" in failed["failure_reason"]
        [alert] = await world.jobs("webhooks.email")
        assert alert.args["account_id"] == world.acme.account_id
        assert "hot wallet is short" in alert.args["subject"]
        # Tokens but no gas: failed for that reason.
        await world.dev.node.receipt(
            await world.dev.node.mint(world.dev.token, world.wallet, 10**9)
        )
        second = (await world.refund(paid["id"])).json()  # the failed one is not counted
        assert await world.sender.advance(world.db.sessions, second["id"]) == "failed"
        assert "for gas" in (await world.row(second["id"])).failure_reason


async def test_the_hot_wallet_key_is_never_logged_or_returned(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    paid = await world.paid_session("1.00")
    created = await world.refund(paid["id"])
    await world.sender.advance(world.db.sessions, created.json()["id"])
    await world.dev.node.mine(CONFIRMATIONS)
    await world.sender.advance(world.db.sessions, created.json()["id"])
    listed = await world.get(f"/payment_sessions/{paid['id']}/refunds")
    bare = world.key.removeprefix("0x")
    assert bare not in caplog.text and bare not in listed.text and bare not in created.text
    assert bare not in repr(world.sender.config)
