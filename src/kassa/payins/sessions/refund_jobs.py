"""The refund job: advances one refund a step, and comes back a block later until the
refund is confirmed or failed (refund_send.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

from kassa.chain.nodes import NodePool
from kassa.core.settings import Settings
from kassa.jobs import JobContext, enqueue, register_job
from kassa.payins.sessions.refund_models import REFUND_OPEN, SessionRefund
from kassa.payins.sessions.refund_send import RefundConfig, RefundSender
from kassa.payins.sessions.refunds import SEND_JOB

log = logging.getLogger("kassa.payins.refunds")


def register(settings: Settings) -> RefundSender:
    """Called once per process by the composition root (when chains are configured)."""
    config = RefundConfig.from_settings(settings)
    pools = {
        key: NodePool(
            chain,
            timeout=settings.chain_rpc_timeout_seconds,
            max_lag=settings.chain_node_max_lag_blocks,
        )
        for key, chain in config.chains.items()
    }
    sender = RefundSender(config, pools)

    async def send(ctx: JobContext) -> None:
        refund_id = str(ctx.args["refund_id"])
        await ctx.session.commit()  # nothing held open across the RPC calls
        status = await sender.advance(ctx.sessions, refund_id)
        if status in REFUND_OPEN:
            refund = await _chain_of(ctx, refund_id)
            every = config.chains[refund].block_time_seconds if refund in config.chains else 5
            enqueue(ctx.session, SEND_JOB, {"refund_id": refund_id}, delay=timedelta(seconds=every))

    # RPC trouble is retried with backoff; a refund is never given up on by attempts alone
    # (its transaction may be on chain): the job re-enqueues itself until it is final.
    register_job(SEND_JOB, send, max_attempts=50, timeout_seconds=120)
    return sender


async def _chain_of(ctx: JobContext, refund_id: str) -> str:
    row = await ctx.session.get(SessionRefund, refund_id)
    return row.chain if row is not None else ""
