"""SQL for claiming, finishing, retrying and releasing jobs.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so any number of workers on any number of
machines can share the queue; SQLite's single writer lock serialises the same statement.
Every state change after a claim is guarded by ``locked_by = <this worker> AND status =
'running'``: a worker whose lease ran out (and whose job another worker took) changes nothing.

The statements are Core statements built once at import: the worker runs them for every job,
and building ORM statements per call was a measurable share of its CPU time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Update

from kassa.core import clock
from kassa.jobs.models import DEAD, QUEUED, RUNNING, SUCCEEDED, Job, WorkerHeartbeat

_jobs: Table = Job.__table__  # type: ignore[assignment]
_c = _jobs.c


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    name: str
    args: dict[str, Any]
    attempts: int
    max_attempts: int


def _owned(*, many: bool) -> Any:
    """The rows this worker still holds (``ids`` expanding, or one ``job_id``)."""
    ids = _c.id.in_(bindparam("ids", expanding=True)) if many else _c.id == bindparam("job_id")
    return ids & (_c.locked_by == bindparam("worker")) & (_c.status == RUNNING)


def _finish(*, many: bool) -> Update:
    return (
        update(_jobs)
        .where(_owned(many=many))
        .values(
            status=SUCCEEDED,
            finished_at=bindparam("now", type_=_c.finished_at.type),
            updated_at=bindparam("now2", type_=_c.updated_at.type),
            locked_by=None,
            lease_until=None,
            last_error=None,
        )
    )


_FINISH_ONE = _finish(many=False)
_FINISH_MANY = _finish(many=True)


def _claim_statement(postgres: bool) -> Update:
    due = (
        select(_c.id)
        .where(_c.status == QUEUED, _c.run_at <= bindparam("now", type_=_c.run_at.type))
        .order_by(_c.run_at)
        .limit(bindparam("limit"))
    )
    ids: Any = due.scalar_subquery()
    if postgres:
        # Materialised, so the locking subquery runs once: as a plain IN (subquery) the planner
        # may run it again per row, each run skipping the rows the last one locked, and the
        # claim then took every due job whatever its limit (measured: 200 of 200 for 8).
        cte = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        ids = select(cte.c.id)
    return (
        update(_jobs)
        .where(_c.id.in_(ids), _c.status == QUEUED)  # re-checked on the row
        .values(
            status=RUNNING,
            locked_by=bindparam("worker"),
            lease_until=bindparam("lease_until", type_=_c.lease_until.type),
            attempts=_c.attempts + 1,
            updated_at=bindparam("now2", type_=_c.updated_at.type),
        )
        .returning(_c.id, _c.name, _c.args, _c.attempts, _c.max_attempts)
    )


_CLAIM = {True: _claim_statement(True), False: _claim_statement(False)}
_NO_SORT = text("SET LOCAL enable_sort = off")


async def claim(
    session: AsyncSession, worker_id: str, limit: int, lease: timedelta
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs for ``worker_id``, oldest first; counts one attempt each."""
    now = clock.now()
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # Walk ix_jobs_due in run_at order and stop after ``limit`` rows. Right after a burst
        # of enqueues the statistics still say "few rows", and the planner then fetches every
        # due row and sorts them: a claim per batch became O(queue) (measured: 4x slower at
        # 20,000 queued jobs). Without sorts, the ordered index scan is the only plan left.
        await session.execute(_NO_SORT)
    params = {"now": now, "now2": now, "limit": limit, "worker": worker_id}
    rows = await session.execute(_CLAIM[postgres], {**params, "lease_until": now + lease})
    return [ClaimedJob(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def mark_succeeded(session: AsyncSession, job_ids: list[str], worker_id: str) -> int:
    """Finish jobs this worker still holds; returns how many it did hold."""
    if not job_ids:
        return 0
    now = clock.now()
    params: dict[str, Any] = {"worker": worker_id, "now": now, "now2": now}
    if len(job_ids) == 1:
        result = await session.execute(_FINISH_ONE, {**params, "job_id": job_ids[0]})
    else:
        result = await session.execute(_FINISH_MANY, {**params, "ids": job_ids})
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
        update(_jobs).where(_owned(many=False)).values(**values),
        {"job_id": job.id, "worker": worker_id},
    )


async def postpone(
    session: AsyncSession, job: ClaimedJob, worker_id: str, reason: str, delay: timedelta
) -> None:
    """Put a job back for later without counting the attempt (e.g. no handler here yet)."""
    await _hand_back(session, [job.id], worker_id, delay=delay, reason=reason)


async def release(session: AsyncSession, job_ids: list[str], worker_id: str) -> int:
    """Give unfinished jobs back (graceful shutdown); the interrupted attempt does not count."""
    return await _hand_back(session, job_ids, worker_id, delay=timedelta(0))


async def _hand_back(
    session: AsyncSession,
    job_ids: list[str],
    worker_id: str,
    *,
    delay: timedelta,
    reason: str | None = None,
) -> int:
    """Queue jobs this worker holds again in ``delay``, their attempt not counted."""
    if not job_ids:
        return 0
    now = clock.now()
    values: dict[str, Any] = {
        "status": QUEUED,
        "locked_by": None,
        "lease_until": None,
        "run_at": now + delay,
        "updated_at": now,
        "attempts": _c.attempts - 1,
    }
    if reason is not None:
        values["last_error"] = reason[:4000]
    result = await session.execute(
        update(_jobs).where(_owned(many=True)).values(**values),
        {"ids": job_ids, "worker": worker_id},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def extend_leases(
    session: AsyncSession, job_ids: list[str], worker_id: str, lease: timedelta
) -> None:
    """Extend the leases of the jobs this worker is running right now, and only those: a job
    it claimed but lost track of (say a failed commit) must expire and go to another worker."""
    if not job_ids:
        return
    await session.execute(
        update(_jobs).where(_owned(many=True)).values(lease_until=clock.now() + lease),
        {"ids": job_ids, "worker": worker_id},
    )


async def requeue_expired(session: AsyncSession) -> int:
    """Jobs whose worker died (lease ran out) go back to the queue for another worker.

    The attempt stays counted, so a job that kills every worker that runs it ends up dead.
    """
    now = clock.now()
    result = await session.execute(
        update(_jobs)
        .where(_c.status == RUNNING, _c.lease_until < now)
        .values(
            status=QUEUED,
            locked_by=None,
            lease_until=None,
            run_at=now,
            updated_at=now,
            last_error="lease expired: the worker running it stopped",
        )
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
