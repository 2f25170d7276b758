"""The monitor of one chain: a lease so exactly one runs per chain, then scans until caught up.

The lease is the cursor row's ``lease_owner`` / ``lease_until``, taken by a guarded update
(compare-and-set on the owner and expiry read), renewed by every scan (which is guarded on
the owner too). A worker killed mid-scan committed nothing of that scan; its lease expires and
the next monitor scans the same range again, adding nothing twice (scanner.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.config import Chain
from kassa.chain.models import ChainCursor
from kassa.chain.nodes import NodePool
from kassa.chain.scanner import ScanResult, scan_once
from kassa.core import clock, executor
from kassa.core.changes import ChangeSet

# This process's name as a lease owner (a restarted process is another owner).
OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds(chain: Chain) -> float:
    """Long enough for a slow scan, short enough that a dead monitor is replaced soon."""
    return max(30.0, 10 * chain.block_time_seconds)


async def _ensure_cursor(sessions: async_sessionmaker[AsyncSession], chain: Chain) -> None:
    async with executor.unit(sessions) as step:
        if await step.reads.get(ChainCursor, chain.key) is not None:
            return
    changes = ChangeSet()
    changes.add(
        ChainCursor(
            chain=chain.key,
            chain_id=chain.chain_id,
            block_number=None,
            block_hash=None,
            lease_owner=None,
            lease_until=None,
            updated_at=clock.now(),
        )
    )
    with contextlib.suppress(IntegrityError):  # another monitor made it first
        await executor.commit(sessions, changes)


async def take_lease(
    sessions: async_sessionmaker[AsyncSession], chain: Chain, owner: str = OWNER
) -> bool:
    """Hold (or renew) ``chain``'s lease for ``owner``; False while another holds it.

    One transaction once the cursor row exists (every scan renews the lease: a round trip
    saved there is latency saved between a block and its webhook)."""
    for _ in range(2):
        now = clock.now()
        async with executor.unit(sessions) as step:
            cursor = await step.reads.get(ChainCursor, chain.key)
            if cursor is not None:
                held = cursor.lease_owner not in (None, owner)
                if held and cursor.lease_until is not None and cursor.lease_until > now:
                    return False
                changes = ChangeSet()
                changes.guard(cursor, "lease_owner", "lease_until")
                cursor.lease_owner = owner
                cursor.lease_until = now + timedelta(seconds=lease_seconds(chain))
                cursor.updated_at = now
                committed = await step.commit(changes)
                return committed.matched
        await _ensure_cursor(sessions, chain)
    return False


async def release_lease(
    sessions: async_sessionmaker[AsyncSession], chain: Chain, owner: str = OWNER
) -> None:
    async with executor.unit(sessions) as step:
        cursor = await step.reads.get(ChainCursor, chain.key)
        if cursor is None or cursor.lease_owner != owner:
            return
        changes = ChangeSet()
        changes.guard(cursor, lease_owner=owner)
        cursor.lease_owner, cursor.lease_until = None, None
        await step.commit(changes)


async def run_monitor(
    sessions: async_sessionmaker[AsyncSession],
    pool: NodePool,
    chain: Chain,
    *,
    owner: str = OWNER,
    max_scans: int = 20,
) -> list[ScanResult]:
    """Scan ``chain`` until caught up with the head (at most ``max_scans`` ranges), if this
    process holds its lease; every scan renews it."""
    results: list[ScanResult] = []
    for _ in range(max_scans):
        if not await take_lease(sessions, chain, owner):
            break
        result = await scan_once(sessions, pool, chain, owner=owner)
        if result is None:
            break
        results.append(result)
        caught_up = result.to_block is None or result.to_block >= result.head - chain.behind_head
        if caught_up and result.rewound_to is None:
            break
    return results
