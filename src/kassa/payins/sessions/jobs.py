"""Jobs of payment sessions: transfers handed over by the chain monitor; expiry."""

from __future__ import annotations

from datetime import timedelta

from kassa.chain.scanner import TRANSFERS_CHANGED
from kassa.jobs import JobContext, register_job
from kassa.jobs.scheduler import register_schedule
from kassa.payins.sessions import events as _events
from kassa.payins.sessions.bind import apply_transfers
from kassa.payins.sessions.expire import expire_due

_ = _events


def register() -> None:
    async def transfers_changed(ctx: JobContext) -> None:
        ids = [str(i) for i in ctx.args.get("transfer_ids", [])]
        await apply_transfers(ctx.sessions, ids)

    async def expire(ctx: JobContext) -> None:
        await expire_due(ctx.sessions)

    register_job(TRANSFERS_CHANGED, transfers_changed, max_attempts=10)
    register_job("payins.sessions.expire", expire, max_attempts=3)
    register_schedule(
        "payins.sessions.expire", "payins.sessions.expire", every=timedelta(minutes=1)
    )
