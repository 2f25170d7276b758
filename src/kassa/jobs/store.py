"""SQL for claiming, finishing, retrying and releasing jobs.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so any number of workers on any number of
machines can share the queue; SQLite's single writer lock serialises the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import clock
from kassa.jobs.models import DEAD, QUEUED, RUNNING, SUCCEEDED, Job, WorkerHeartbeat


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    name: str
    args: dict[str, Any]
    attempts: int
    max_attempts: int


async def claim(
    session: AsyncSession, worker_id: str, limit: int, lease: timedelta
) -> list[ClaimedJob]:
    now = clock.now()
    due = (
        select(Job.id)
        .where(Job.status == QUEUED, Job.run_at <= now)
        .order_by(Job.run_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(
            status=RUNNING,
            locked_by=worker_id,
            lease_until=now + lease,
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        .returning(Job.id, Job.name, Job.args, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(stmt)).all()
    return [ClaimedJob(r.id, r.name, r.args, r.attempts, r.max_attempts) for r in rows]


def _owned(job_ids: list[str], worker_id: str) -> Any:
    return and_(Job.id.in_(job_ids), Job.locked_by == worker_id, Job.status == RUNNING)


async def mark_succeeded(session: AsyncSession, job_ids: list[str], worker_id: str) -> int:
    """Finish jobs this worker still holds; returns how many it did hold."""
    now = clock.now()
    result = await session.execute(
        update(Job)
        .where(_owned(job_ids, worker_id))
        .values(
            status=SUCCEEDED,
            finished_at=now,
            updated_at=now,
            locked_by=None,
            lease_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def mark_failed(
    session: AsyncSession, job: ClaimedJob, worker_id: str, error: str, retry_in: timedelta | None
) -> None:
    """Schedule a retry in ``retry_in``, or move the job to the dead letters when None."""
    now = clock.now()
    values: dict[str, Any] = {
        "locked_by": None,
        "lease_until": None,
        "updated_at": now,
        "last_error": error[:4000],
    }
    if retry_in is None:
        values.update(status=DEAD, finished_at=now)
    else:
        values.update(status=QUEUED, run_at=now + retry_in)
    await session.execute(
        update(Job)
        .where(_owned([job.id], worker_id))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, job_ids: list[str], worker_id: str) -> None:
    """Give unfinished jobs back (graceful shutdown); the attempt does not count."""
    now = clock.now()
    await session.execute(
        update(Job)
        .where(_owned(job_ids, worker_id))
        .values(
            status=QUEUED,
            locked_by=None,
            lease_until=None,
            run_at=now,
            updated_at=now,
            attempts=Job.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )


async def extend_leases(session: AsyncSession, worker_id: str, lease: timedelta) -> None:
    now = clock.now()
    await session.execute(
        update(Job)
        .where(Job.locked_by == worker_id, Job.status == RUNNING)
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )


async def requeue_expired(session: AsyncSession) -> int:
    """Jobs whose worker died (lease ran out) go back to the queue for another worker."""
    now = clock.now()
    result = await session.execute(
        update(Job)
        .where(Job.status == RUNNING, Job.lease_until < now)
        .values(
            status=QUEUED,
            locked_by=None,
            lease_until=None,
            run_at=now,
            updated_at=now,
            last_error="lease expired: the worker running it stopped",
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def heartbeat(session: AsyncSession, beat: WorkerHeartbeat) -> None:
    existing = await session.get(WorkerHeartbeat, beat.id)
    if existing is None:
        session.add(beat)
    else:
        existing.heartbeat_at = beat.heartbeat_at


async def queue_stats(session: AsyncSession) -> dict[str, float]:
    """Depth and age of the queue, and the dead-letter count, for /health and /metrics."""
    now = clock.now()
    queued, oldest = (
        await session.execute(
            select(func.count(), func.min(Job.run_at)).where(
                Job.status == QUEUED, Job.run_at <= now
            )
        )
    ).one()
    dead = await session.scalar(select(func.count()).where(Job.status == DEAD))
    last_beat = await session.scalar(select(func.max(WorkerHeartbeat.heartbeat_at)))
    return {
        "queued": float(queued or 0),
        "oldest_age_seconds": (now - oldest).total_seconds() if oldest else 0.0,
        "dead": float(dead or 0),
        "worker_seen_seconds_ago": (now - last_beat).total_seconds() if last_beat else -1.0,
    }


def when(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None
