"""One scan of one chain: new Transfer logs in, confirmations counted, re-orgs noticed.

A scan makes a constant number of RPC calls however many sessions are open or addresses are
watched (the monitor's budget):

1. ``eth_blockNumber`` on every node (NodePool.check: heights, failover, lag);
2. one ``eth_getLogs`` for the next block range: every configured token contract, topic
   ``Transfer(address,address,uint256)``, the recipient topic any watched address;
3. one JSON-RPC batch of ``eth_getBlockByNumber`` for the blocks whose hashes must be
   re-checked: the range's last block (the new cursor), the old cursor's block, every block
   holding a transfer still counting confirmations or confirmed within the re-org window, and
   every block a new log came from.

A block whose hash changed was re-orged out: its transfers become ``reorged`` and the cursor
goes back to before the lowest such block, so the range is scanned again and a transaction
re-included in another block is found there (the same row, moved to its new block). New rows,
updates and the cursor commit together, guarded by the monitor's lease and the cursor it
read: a scan repeated after a crash adds nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.config import Chain
from kassa.chain.models import (
    CONFIRMED,
    REORGED,
    SEEN,
    ChainCursor,
    ChainTransfer,
    ReceivingAddress,
)
from kassa.chain.nodes import NodePool
from kassa.chain.rpc import Call, hex_int
from kassa.core import clock, executor, ids
from kassa.core.changes import ChangeSet, writable
from kassa.jobs import enqueue

writable(ChainCursor, ChainTransfer, ReceivingAddress)

# The job the monitor hands changed transfers to (its handler is payins' sessions, which
# this context never imports; the composition root registers it).
TRANSFERS_CHANGED = "chain.transfers_changed"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def address_topic(address: str) -> str:
    return "0x" + address.lower().removeprefix("0x").rjust(64, "0")


def topic_address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


@dataclass
class ScanResult:
    chain: str
    head: int
    from_block: int | None = None
    to_block: int | None = None
    new: list[str] = field(default_factory=list)  # transfer ids first seen
    confirmed: list[str] = field(default_factory=list)
    reorged: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # re-included in another block
    rewound_to: int | None = None  # the cursor went back here after a re-org
    rpc_calls: int = 0

    @property
    def changed(self) -> list[str]:
        return [*self.new, *self.confirmed, *self.reorged, *self.moved]


@dataclass(frozen=True, slots=True)
class _Log:
    token: str
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    sender: str
    recipient: str
    value: int


def _parse_log(raw: dict[str, Any]) -> _Log | None:
    topics = raw.get("topics") or []
    if len(topics) != 3 or topics[0] != TRANSFER_TOPIC or raw.get("removed"):
        return None  # not an ERC-20 Transfer (ERC-721's has 4 topics)
    data = raw.get("data") or "0x"
    return _Log(
        token=str(raw["address"]).lower(),
        tx_hash=str(raw["transactionHash"]).lower(),
        log_index=hex_int(raw["logIndex"]),
        block_number=hex_int(raw["blockNumber"]),
        block_hash=str(raw["blockHash"]).lower(),
        sender=topic_address(topics[1]),
        recipient=topic_address(topics[2]),
        value=int(data, 16) if data != "0x" else 0,
    )


async def _watched(reads: AsyncSession, chain: Chain) -> list[str]:
    rows = await reads.scalars(
        select(ReceivingAddress.address).where(ReceivingAddress.chain == chain.key).distinct()
    )
    return sorted(rows)


async def _open_transfers(reads: AsyncSession, chain: Chain, head: int) -> list[ChainTransfer]:
    """Transfers whose block must still be re-checked: counting confirmations, or confirmed
    within as many blocks again (a re-org that deep is rare, but it must not go unnoticed)."""
    window = head - 2 * chain.confirmations
    rows = await reads.scalars(
        select(ChainTransfer).where(
            ChainTransfer.chain == chain.key,
            ChainTransfer.status.in_((SEEN, CONFIRMED)),
            ChainTransfer.block_number >= window,
        )
    )
    return list(rows)


async def scan_once(
    sessions: async_sessionmaker[AsyncSession],
    pool: NodePool,
    chain: Chain,
    *,
    owner: str,
) -> ScanResult | None:
    """One scan, if ``owner`` holds the chain's lease (see monitor.py); None when it lost it."""
    calls_before = pool.calls
    head = await pool.check()
    result = ScanResult(chain.key, head)
    async with executor.unit(sessions) as step:
        reads = step.reads
        cursor = await reads.get(ChainCursor, chain.key)
        if cursor is None or cursor.lease_owner != owner:
            return None
        watched = await _watched(reads, chain)
        open_rows = await _open_transfers(reads, chain, head)
        safe = head - chain.behind_head
        if cursor.block_number is not None:
            start = cursor.block_number + 1
        else:
            start = safe if chain.start_block is None else chain.start_block
        end = min(safe, start + chain.max_blocks_per_scan - 1)
        logs: list[_Log] = []
        if start <= end and watched and chain.tokens:
            raw = await pool.call(
                "eth_getLogs",
                {
                    "fromBlock": hex(start),
                    "toBlock": hex(end),
                    "address": [t.address for t in chain.tokens],
                    "topics": [TRANSFER_TOPIC, None, [address_topic(a) for a in watched]],
                },
            )
            logs = [log for log in map(_parse_log, raw or []) if log is not None]
        heights = {t.block_number for t in open_rows} | {log.block_number for log in logs}
        if cursor.block_number is not None:
            heights.add(cursor.block_number)
        if start <= end:
            heights.add(end)
        ordered = sorted(heights)
        blocks = await pool.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in ordered])
        canonical = {
            n: (str(b["hash"]).lower() if isinstance(b, dict) else None)
            for n, b in zip(ordered, blocks, strict=True)
        }
        times = {
            n: datetime.fromtimestamp(hex_int(b["timestamp"]), UTC)
            for n, b in zip(ordered, blocks, strict=True)
            if isinstance(b, dict)
        }
        changes, rewind = _describe(
            chain, cursor, head, start, end, logs, open_rows, canonical, times, result
        )
        await _existing_moved(reads, chain, changes, result)
        if result.changed:  # handed over in the same commit: never lost, never early
            enqueue(changes, TRANSFERS_CHANGED, {"transfer_ids": result.changed})
        committed = await step.commit(changes)
    result.rpc_calls = pool.calls - calls_before
    if not committed.matched:
        return None
    result.rewound_to = rewind
    return result


def _describe(
    chain: Chain,
    cursor: ChainCursor,
    head: int,
    start: int,
    end: int,
    logs: list[_Log],
    open_rows: list[ChainTransfer],
    canonical: dict[int, str | None],
    times: dict[int, datetime],
    result: ScanResult,
) -> tuple[ChangeSet, int | None]:
    now = clock.now()
    changes = ChangeSet()
    changes.guard(cursor, "block_number", "block_hash", lease_owner=cursor.lease_owner)
    # Re-orged blocks: a hash that changed since it was read.
    forked = [
        row.block_number for row in open_rows if canonical.get(row.block_number) != row.block_hash
    ]
    cursor_forked = (
        cursor.block_number is not None
        and cursor.block_hash is not None
        and canonical.get(cursor.block_number) != cursor.block_hash
    )
    for row in open_rows:
        if canonical.get(row.block_number) != row.block_hash:
            changes.guard(row, "status", "block_hash")
            row.status, row.reorged_at, row.updated_at = REORGED, now, now
            row.confirmations = 0
            result.reorged.append(row.id)
            continue
        confirmations = head - row.block_number + 1
        if confirmations != row.confirmations or (
            row.status == SEEN and confirmations >= chain.confirmations
        ):
            changes.guard(row, "status", "block_hash")
            row.confirmations, row.updated_at = confirmations, now
            if row.status == SEEN and confirmations >= chain.confirmations:
                row.status, row.confirmed_at = CONFIRMED, now
                result.confirmed.append(row.id)
    if forked or cursor_forked:
        # Scan again from before the lowest changed block (bounded by the confirmation
        # depth when only the cursor's block is known to have changed).
        lowest = min(forked) if forked else (cursor.block_number or 0) - chain.confirmations
        rewind = max(lowest - 1, 0)
        cursor.block_number, cursor.block_hash = rewind, None
        cursor.updated_at = now
        return changes, rewind
    # Logs from a block that is no longer canonical (a re-org during this scan) stop the
    # range before that block; it is read again next time.
    stale = [log.block_number for log in logs if canonical.get(log.block_number) != log.block_hash]
    if stale:
        end = min(stale) - 1
    known = {(r.tx_hash, r.log_index) for r in open_rows}
    for log in logs:
        if log.block_number > end or (log.tx_hash, log.log_index) in known:
            continue
        token = chain.token_at(log.token)
        if token is None:
            continue
        confirmations = head - log.block_number + 1
        enough = confirmations >= chain.confirmations
        transfer = ChainTransfer(
            id=ids.new_id("ctr"),
            chain=chain.key,
            token_address=log.token,
            token_symbol=token.symbol,
            tx_hash=log.tx_hash,
            log_index=log.log_index,
            block_number=log.block_number,
            block_hash=log.block_hash,
            block_time=times.get(log.block_number, now),
            from_address=log.sender,
            to_address=log.recipient,
            value=str(log.value),
            status=CONFIRMED if enough else SEEN,
            confirmations=confirmations,
            seen_at=now,
            confirmed_at=now if enough else None,
            reorged_at=None,
            updated_at=now,
        )
        changes.add(transfer)
        result.new.append(transfer.id)
        if enough:
            result.confirmed.append(transfer.id)
    if start <= end:
        cursor.block_number, cursor.block_hash = end, canonical.get(end)
        result.from_block, result.to_block = start, end
    cursor.updated_at = now
    return changes, None


async def _existing_moved(
    reads: AsyncSession,
    chain: Chain,
    changes: ChangeSet,
    result: ScanResult,
) -> None:
    """A log whose (tx, index) is on record from an earlier, re-orged block: the row moves to
    the block the transaction is in now, instead of a second row."""
    new_rows = [r for r in changes.rows if isinstance(r, ChainTransfer)]
    if not new_rows:
        return
    keys = [r.tx_hash for r in new_rows]
    found = await reads.scalars(
        select(ChainTransfer).where(
            ChainTransfer.chain == chain.key, ChainTransfer.tx_hash.in_(keys)
        )
    )
    on_record = {(r.tx_hash, r.log_index): r for r in found}
    guarded = {id(g.instance) for g in changes.guards}
    for row in new_rows:
        old = on_record.get((row.tx_hash, row.log_index))
        if old is None:
            continue
        changes.rows.remove(row)
        result.new.remove(row.id)
        if row.id in result.confirmed:
            result.confirmed.remove(row.id)
        if old.status != REORGED and old.block_hash == row.block_hash:
            continue  # scanned again after a rewind, still where it was
        if id(old) not in guarded:
            changes.guard(old, "status", "block_hash")
        old.block_number, old.block_hash = row.block_number, row.block_hash
        old.block_time = row.block_time
        old.status, old.confirmations = row.status, row.confirmations
        old.confirmed_at, old.reorged_at, old.updated_at = row.confirmed_at, None, row.updated_at
        result.moved.append(old.id)
        if row.status == CONFIRMED:
            result.confirmed.append(old.id)
