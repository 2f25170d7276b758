"""The chain context's jobs: ``chain.scan`` per configured chain, every block time."""

from __future__ import annotations

import logging
from datetime import timedelta

from kassa.accounts.jobs import admin_addresses
from kassa.chain import health
from kassa.chain.config import chains_of
from kassa.chain.monitor import run_monitor
from kassa.chain.nodes import NodePool
from kassa.chain.rpc import RpcError
from kassa.core.settings import Settings
from kassa.jobs import JobContext, register_job
from kassa.jobs.scheduler import register_schedule
from kassa.notify import EmailMessage, mailer_from_settings

log = logging.getLogger("kassa.chain")


def register(settings: Settings) -> dict[str, NodePool]:
    """Register the monitor of every configured chain; the pools (one per chain, kept for
    the process so node health carries over between scans) are returned for /health."""
    chains = chains_of(settings)
    pools = {
        key: NodePool(
            chain,
            timeout=settings.chain_rpc_timeout_seconds,
            max_lag=settings.chain_node_max_lag_blocks,
        )
        for key, chain in chains.items()
    }

    async def scan(ctx: JobContext) -> None:
        key = str(ctx.args["chain"])
        chain = chains.get(key)
        if chain is None:
            return  # the chain was removed from the settings since the job was queued
        pool = pools[key]
        calls = pool.calls
        down = False
        try:
            results = await run_monitor(ctx.sessions, pool, chain)
            if any(r.changed for r in results):
                ctx.wake()  # the hand-over is committed: claim it now, not after the health rows
        except RpcError as exc:
            # Every node down: the next tick tries again (the pool's state is in /health and
            # /metrics); a failed job per tick would only fill the dead letters. No URL in
            # the log: an RPC URL often carries its API key.
            log.warning("chain %s: no RPC node answers (%s)", key, type(exc).__name__)
            down = not pool.usable()
        if pool.calls != calls:  # this worker checked the nodes (it holds the lease)
            await health.record(ctx.sessions, pool)
            await health.note_outage(
                ctx.sessions, chain, down=down, alert_after=settings.chain_down_alert_seconds
            )

    async def alert_admins(ctx: JobContext) -> None:
        to = await admin_addresses(ctx.session)
        await ctx.session.commit()  # no transaction held across the SMTP conversation
        if not to:
            log.warning("chain alert and no admin to tell: %s", ctx.args.get("subject"))
            return
        await mailer.send(EmailMessage(tuple(to), ctx.args["subject"], ctx.args["body"]))

    mailer = mailer_from_settings(settings)
    register_job("chain.scan", scan, max_attempts=1, timeout_seconds=300)
    register_job(health.ALERT_JOB, alert_admins, max_attempts=8, timeout_seconds=120)
    for key, chain in chains.items():
        every = timedelta(seconds=max(1.0, chain.block_time_seconds))
        register_schedule(f"chain.scan.{key}", "chain.scan", every=every, args={"chain": key})
    return pools
