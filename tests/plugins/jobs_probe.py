"""Jobs and a schedule for process-level worker tests (``KASSA_PLUGINS=tests.plugins.jobs_probe``).

Every execution is recorded in ``probe_runs`` in its own committed transaction as it starts,
so a job run twice (even by a worker that later loses its lease) leaves two rows. The tables
are created by the tests (``PROBE_TABLES``), not by migrations.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import text

from kassa.jobs import JobContext, register_job

PROBE_TABLES = (
    "CREATE TABLE IF NOT EXISTS probe_runs (job_id VARCHAR(40) NOT NULL, "
    "attempt INTEGER NOT NULL, pid INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS probe_done (job_id VARCHAR(40) PRIMARY KEY, pid INTEGER NOT NULL)",
)


async def _record_start(ctx: JobContext) -> None:
    async with ctx.sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO probe_runs (job_id, attempt, pid) VALUES (:id, :attempt, :pid)"),
            {"id": ctx.id, "attempt": ctx.attempt, "pid": os.getpid()},
        )


async def _record_done(ctx: JobContext) -> None:
    """A write in the job's own transaction: it commits with the job's completion."""
    await ctx.session.execute(
        text("INSERT INTO probe_done (job_id, pid) VALUES (:id, :pid)"),
        {"id": ctx.id, "pid": os.getpid()},
    )


async def record(ctx: JobContext) -> None:
    await _record_start(ctx)
    await asyncio.sleep(float(ctx.args.get("sleep", 0)))
    await _record_done(ctx)


async def hang_first(ctx: JobContext) -> None:
    """The first attempt hangs (its worker gets SIGKILLed); later ones finish."""
    await _record_start(ctx)
    if ctx.attempt == 1:
        await asyncio.sleep(3600)
    await _record_done(ctx)


async def tick(ctx: JobContext) -> None:
    await _record_start(ctx)
    await _record_done(ctx)


register_job("probe.record", record)
register_job("probe.hang_first", hang_first)
register_job("probe.tick", tick)
