"""Node pool health beyond the worker: recorded for the API, and the all-nodes-down alert.

The worker's monitor checks every node of a chain on each scan (NodePool.check); what it saw
is written to ``chain_node_health``, one row per node. The API's /health and /metrics read
those rows (one quick query, no RPC from the API process, never a URL path: nodes are named
scheme://host:port). Rows older than a few block times are shown as ``stale``: no worker
is watching that chain.

When every node of a chain has been down for ``KASSA_CHAIN_DOWN_ALERT_SECONDS``, the
install's admins get one email for that outage (seed 002's critical alert); a chain that
answers again ends the outage.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.config import Chain
from kassa.chain.nodes import NodePool, node_height, node_up
from kassa.chain.ops_models import ChainAlert, NodeHealth
from kassa.core import clock, executor
from kassa.core.changes import ChangeSet
from kassa.jobs import enqueue

ALERT_JOB = "chain.alert_admins"


def stale_after(chain_block_time: float) -> float:
    return max(60.0, 10 * chain_block_time)


async def record(sessions: async_sessionmaker[AsyncSession], pool: NodePool) -> None:
    """Write what ``pool``'s last check saw."""
    key = pool.chain.key
    now = clock.now()
    async with executor.unit(sessions) as step:
        rows = await step.reads.scalars(select(NodeHealth).where(NodeHealth.chain == key))
        known = {r.node: r for r in rows}
    changes = ChangeSet()
    for position, node in enumerate(pool.nodes):
        state = node.health()
        row = known.get(node.client.name)
        if row is None:
            row = NodeHealth(chain=key, node=node.client.name, position=position)
            changes.add(row)
        else:
            changes.guard(row)
        row.position, row.up = position, state["status"] == "ok"
        row.block_height, row.lagging = node.height, node.lagging
        row.latency_ms = None if node.latency_ms is None else round(node.latency_ms, 1)
        row.last_error = (node.last_error or "")[:300] or None
        row.checked_at = now
    with contextlib.suppress(IntegrityError):  # another worker recorded the same nodes just now
        await executor.commit(sessions, changes)


async def note_outage(
    sessions: async_sessionmaker[AsyncSession], chain: Chain, *, down: bool, alert_after: float
) -> bool:
    """Track the chain's all-nodes-down state; enqueue the admins' alert once an outage has
    lasted ``alert_after`` seconds (once per outage). True when an alert was enqueued."""
    key = f"chain_down:{chain.key}"
    now = clock.now()
    async with executor.unit(sessions) as step:
        row = await step.reads.get(ChainAlert, key)
    changes = ChangeSet()
    if row is None:
        if not down:
            return False
        row = ChainAlert(key=key, since=now, last_sent_at=None, updated_at=now)
        changes.add(row)
    else:
        changes.guard(row, "since", "last_sent_at")
    sent = False
    if not down:
        if row.since is None:
            return False
        row.since = None
    else:
        row.since = row.since or now
        told = row.last_sent_at is not None and row.last_sent_at >= row.since
        if not told and (now - row.since).total_seconds() >= alert_after:
            row.last_sent_at, sent = now, True
            enqueue(
                changes,
                ALERT_JOB,
                {
                    "subject": f"kassa: every RPC node of {chain.key} is down",
                    "body": (
                        f"No RPC node of the chain {chain.key} (chain id {chain.chain_id}) has "
                        f"answered since {row.since:%Y-%m-%d %H:%M:%S} UTC. Payments on it are "
                        "not seen and refunds wait until one answers. /health shows each node; "
                        "check the nodes' status pages and KASSA_CHAINS' rpc_urls.\n"
                    ),
                },
            )
    row.updated_at = now
    try:
        await executor.commit(sessions, changes)
    except IntegrityError:
        return False
    return sent


async def chain_health(session: AsyncSession, chains: dict[str, Chain]) -> dict[str, Any]:
    """/health's ``chains`` check from the recorded rows."""
    rows = list(await session.scalars(select(NodeHealth).order_by(NodeHealth.position)))
    now = clock.now()
    result: dict[str, Any] = {}
    worst = "ok"
    for key, chain in sorted(chains.items()):
        mine = [r for r in rows if r.chain == key]
        nodes = [
            {
                "node": r.node,
                "status": "ok" if r.up else "down",
                "block_height": r.block_height,
                "latency_ms": r.latency_ms,
                "lagging": r.lagging,
                "checked_seconds_ago": round((now - r.checked_at).total_seconds(), 1),
            }
            for r in mine
        ]
        if not mine:
            status = "unknown"
        elif (now - max(r.checked_at for r in mine)).total_seconds() > stale_after(
            chain.block_time_seconds
        ):
            status = "stale"
        else:
            status = "ok" if any(r.up for r in mine) else "down"
        result[key] = {"status": status, "nodes": nodes}
        if status != "ok":
            worst = "down" if status == "down" else "degraded"
    return {"status": worst, "chains": result}


async def set_gauges(session: AsyncSession) -> None:
    """The API's /metrics: the node gauges from the recorded rows (the worker sets them in
    its own process; the API serves them)."""
    for row in await session.scalars(select(NodeHealth)):
        node_up.labels(row.chain, row.node).set(1 if row.up else 0)
        if row.block_height is not None:
            node_height.labels(row.chain, row.node).set(row.block_height)
