"""The chain monitor against a real EVM node (anvil): transfers seen once, confirmations
counted, re-orgs rolled back, a constant RPC budget, one monitor per chain."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select, update

from kassa.chain.config import Chain, Token
from kassa.chain.models import (
    CONFIRMED,
    REORGED,
    SEEN,
    ChainCursor,
    ChainTransfer,
    ReceivingAddress,
)
from kassa.chain.monitor import run_monitor, take_lease
from kassa.chain.nodes import NodePool
from kassa.core import clock, ids
from kassa.core.db import transaction
from tests.chain.conftest import Chain as Devchain
from tests.conftest import Backend

CONFIRMATIONS = 3


def _config(dev: Devchain, *urls: str) -> Chain:
    return Chain(
        key="local",
        chain_id=dev.node.chain_id,
        rpc_urls=urls or (dev.node.url,),
        confirmations=CONFIRMATIONS,
        block_time_seconds=1.0,
        behind_head=0,
        max_blocks_per_scan=500,
        tokens=(Token("USDC", dev.token, 6),),
        start_block=0,
    )


async def _watch(db: Backend, chain: Chain, *addresses: str) -> None:
    async with transaction(db.sessions) as session:
        for address in addresses:
            session.add(
                ReceivingAddress(
                    id=ids.new_id("cra"),
                    account_id="acct_test",
                    livemode=False,
                    chain=chain.key,
                    address=address.lower(),
                    created_at=clock.now(),
                )
            )


async def _transfers(db: Backend) -> list[ChainTransfer]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(ChainTransfer).order_by(ChainTransfer.block_number, ChainTransfer.log_index)
        )
        return list(rows)


async def _scan(db: Backend, pool: NodePool, chain: Chain, owner: str = "me") -> list[object]:
    return list(await run_monitor(db.sessions, pool, chain, owner=owner))


async def test_a_transfer_is_seen_once_then_confirmed(chain: Devchain, db: Backend) -> None:
    config = _config(chain)
    pool = NodePool(config, timeout=5, max_lag=5)
    await _watch(db, config, chain.merchant)
    tx = await chain.node.transfer(chain.token, chain.payer, chain.merchant, 1_500_000)
    await chain.node.receipt(tx)
    other = chain.node.accounts[5]  # not watched: never recorded
    await chain.node.receipt(await chain.node.transfer(chain.token, chain.payer, other, 7))
    await _scan(db, pool, config)
    [seen] = await _transfers(db)
    assert (seen.tx_hash, seen.value, seen.to_address) == (tx, "1500000", chain.merchant)
    assert seen.from_address == chain.payer and seen.token_symbol == "USDC"
    assert seen.status == SEEN and seen.confirmations == 2  # its block and the next one
    await chain.node.mine(1)
    await _scan(db, pool, config)
    [confirmed] = await _transfers(db)
    assert confirmed.id == seen.id and confirmed.status == CONFIRMED
    assert confirmed.confirmations == CONFIRMATIONS and confirmed.confirmed_at is not None
    await chain.node.mine(5)
    await _scan(db, pool, config)  # scanning on adds nothing
    assert [t.id for t in await _transfers(db)] == [seen.id]
    await pool.aclose()


async def test_two_transfers_in_one_transaction_are_two_records(
    chain: Devchain, db: Backend
) -> None:
    config = _config(chain)
    pool = NodePool(config, timeout=5, max_lag=5)
    await _watch(db, config, chain.merchant)
    tx = await chain.node.transfer_twice(chain.token, chain.payer, chain.merchant, 100, 250)
    await chain.node.receipt(tx)
    await _scan(db, pool, config)
    rows = await _transfers(db)
    assert [(r.tx_hash, r.value) for r in rows] == [(tx, "100"), (tx, "250")]
    assert rows[0].log_index != rows[1].log_index
    await pool.aclose()


async def test_a_rescan_after_a_crash_counts_nothing_twice(chain: Devchain, db: Backend) -> None:
    """A monitor killed mid-scan committed nothing of it; the next one scans the range again."""
    config = _config(chain)
    pool = NodePool(config, timeout=5, max_lag=5)
    await _watch(db, config, chain.merchant)
    for units in (1, 2, 3):
        await chain.node.receipt(
            await chain.node.transfer(chain.token, chain.payer, chain.merchant, units)
        )
    await _scan(db, pool, config, owner="first")
    before = [(t.id, t.tx_hash) for t in await _transfers(db)]
    assert len(before) == 3
    async with transaction(db.sessions) as session:  # as if the last scans never committed
        await session.execute(
            update(ChainCursor).values(block_number=0, block_hash=None, lease_until=None)
        )
    await _scan(db, pool, config, owner="second")
    assert [(t.id, t.tx_hash) for t in await _transfers(db)] == before
    await pool.aclose()


async def test_a_reorg_rolls_a_transfer_back_and_finds_it_in_its_new_block(
    chain: Devchain, db: Backend
) -> None:
    config = _config(chain)
    pool = NodePool(config, timeout=5, max_lag=5)
    await _watch(db, config, chain.merchant)
    node = chain.node
    snapshot = await node.rpc.call("evm_snapshot")
    nonce = await node.rpc.call("eth_getTransactionCount", chain.payer, "latest")
    from kassa.chain.abi import call_data

    tx = {
        "from": chain.payer,
        "to": chain.token,
        "data": call_data(
            "transfer(address,uint256)", ["address", "uint256"], [chain.merchant, 42]
        ),
        "nonce": nonce,
        "gas": hex(100_000),
        "gasPrice": hex(10**10),
    }
    tx_hash = await node.rpc.call("eth_sendTransaction", tx)
    first_block = int((await node.receipt(tx_hash))["blockNumber"], 16)
    await _scan(db, pool, config)
    [seen] = await _transfers(db)
    assert seen.status == SEEN and seen.block_number == first_block

    await node.rpc.call("evm_revert", snapshot)  # the block with the transfer is gone ...
    await node.mine(3)  # ... and the chain moved on without it (new hashes at its height)
    await _scan(db, pool, config)
    [gone] = await _transfers(db)
    assert gone.id == seen.id and gone.status == REORGED and gone.reorged_at is not None

    assert await node.rpc.call("eth_sendTransaction", tx) == tx_hash  # re-included later
    await node.mine(CONFIRMATIONS)
    await _scan(db, pool, config)
    [back] = await _transfers(db)
    assert back.id == seen.id  # the same record, moved to the block it is in now
    assert back.block_number > first_block and back.block_hash != seen.block_hash
    assert back.status == CONFIRMED
    await pool.aclose()


async def test_rpc_calls_per_scan_do_not_grow_with_watched_addresses(
    chain: Devchain, db: Backend
) -> None:
    config = _config(chain)
    pool = NodePool(config, timeout=5, max_lag=5)
    await _watch(db, config, chain.merchant)
    await chain.node.receipt(await chain.node.transfer(chain.token, chain.payer, chain.merchant, 5))
    [few] = await _scan(db, pool, config)
    await _watch(db, config, *(f"0x{n:040x}" for n in range(1, 500)))
    await chain.node.receipt(await chain.node.transfer(chain.token, chain.payer, chain.merchant, 6))
    [many] = await _scan(db, pool, config)
    # eth_blockNumber, eth_getLogs, one batch of block hashes: with 1 or 500 addresses.
    assert few.rpc_calls == many.rpc_calls == 3  # type: ignore[attr-defined]
    await pool.aclose()


async def test_a_dead_first_node_and_a_lagging_node_are_passed_over(
    chain: Devchain, db: Backend, anvil_binary: object
) -> None:
    from pathlib import Path

    from kassa.chain.devnode import free_port, start_devnode

    behind = await start_devnode(Path(str(anvil_binary)))  # the same chain id, far behind
    try:
        await chain.node.mine(20)
        dead = f"http://127.0.0.1:{free_port()}"
        config = _config(chain, dead, behind.url, chain.node.url)
        pool = NodePool(config, timeout=2, max_lag=5)
        await _watch(db, config, chain.merchant)
        tx = await chain.node.transfer(chain.token, chain.payer, chain.merchant, 9)
        await chain.node.receipt(tx)
        await _scan(db, pool, config)
        assert [t.tx_hash for t in await _transfers(db)] == [tx]
        health = pool.health()
        assert health["status"] == "ok"
        states = {n["node"]: n for n in health["nodes"]}  # type: ignore[union-attr]
        assert states["http://127.0.0.1:" + dead.rsplit(":", 1)[1]]["status"] == "down"
        lagging = states["http://127.0.0.1:" + behind.url.rsplit(":", 1)[1]]
        assert lagging["status"] == "down" and lagging["lagging"] is True
        await pool.aclose()
    finally:
        await behind.stop()


async def test_one_monitor_per_chain_holds_the_lease(chain: Devchain, db: Backend) -> None:
    config = _config(chain)
    assert await take_lease(db.sessions, config, "worker-a")
    assert not await take_lease(db.sessions, config, "worker-b")
    pool = NodePool(config, timeout=5, max_lag=5)
    assert await run_monitor(db.sessions, pool, config, owner="worker-b") == []
    assert await take_lease(db.sessions, config, "worker-a")  # renewing is fine
    async with transaction(db.sessions) as session:  # worker-a died: its lease runs out
        await session.execute(update(ChainCursor).values(lease_until=clock.now()))
    assert await take_lease(db.sessions, replace(config), "worker-b")
    await pool.aclose()
