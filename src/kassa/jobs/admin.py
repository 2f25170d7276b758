"""Operator actions on jobs: list them (dead letters above all) and run dead ones again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.errors import NotFound
from kassa.jobs.errors import JOB_NOT_DEAD
from kassa.jobs.models import DEAD, QUEUED, SUCCEEDED, Job


def jobs_query(*, status: str | None = None, name: str | None = None) -> Select[Job]:
    """Jobs, filtered; the API pages it by id (newest first)."""
    query = select(Job)
    if status:
        query = query.where(Job.status == status)
    if name:
        query = query.where(Job.name == name)
    return query


async def list_jobs(
    session: AsyncSession,
    *,
    status: str | None = None,
    name: str | None = None,
    limit: int = 20,
) -> Sequence[Job]:
    """The newest ``limit`` jobs."""
    query = jobs_query(status=status, name=name).order_by(Job.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def get_job(session: AsyncSession, job_id: str) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id!r}.", param="id")
    return job


async def retry_dead(session: AsyncSession, job_id: str) -> Job:
    """Queue a dead job again with a fresh set of attempts."""
    job = await get_job(session, job_id)
    if job.status != DEAD:
        raise JOB_NOT_DEAD(f"Job {job_id} is {job.status}; only dead jobs can be retried.")
    before = {"status": job.status, "attempts": job.attempts}
    now = clock.now()
    job.status, job.attempts, job.run_at, job.updated_at, job.finished_at = (
        QUEUED,
        0,
        now,
        now,
        None,
    )
    audit.record(
        session,
        action="job.retry",
        object_type="job",
        object_id=job.id,
        account_id=None,
        before=before,
        after={"status": QUEUED, "attempts": 0},
    )
    return job


async def retry_all_dead(session: AsyncSession, *, name: str | None = None) -> int:
    now = clock.now()
    stmt = update(Job).where(Job.status == DEAD)
    if name:
        stmt = stmt.where(Job.name == name)
    result = await session.execute(
        stmt.values(
            status=QUEUED, attempts=0, run_at=now, updated_at=now, finished_at=None
        ).execution_options(synchronize_session=False)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    audit.record(
        session,
        action="job.retry_all",
        object_type="job",
        object_id=name or "*",
        account_id=None,
        after={"requeued": count},
    )
    return count


async def purge_finished(session: AsyncSession, *, older_than_hours: int) -> int:
    """Delete succeeded jobs past retention (dead ones stay until an operator acts)."""
    cutoff = clock.now() - timedelta(hours=older_than_hours)
    result = await session.execute(
        delete(Job)
        .where(Job.status == SUCCEEDED, Job.finished_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
