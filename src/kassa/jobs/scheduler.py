"""Recurring jobs (cron or interval), run exactly once per tick across all workers.

Every worker ticks; each due schedule is advanced with a compare-and-set on ``next_run_at``
and the winner enqueues the job in the same transaction. A tick missed while no worker ran is
run once, not once per missed tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import clock
from kassa.core.db import is_postgres
from kassa.jobs.models import Schedule
from kassa.jobs.outbox import enqueue


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    job_name: str
    every: timedelta | None = None
    cron: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"schedule {self.name}: give exactly one of every= or cron=")
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError(f"schedule {self.name}: every= must be positive")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"schedule {self.name}: invalid cron expression {self.cron!r}")

    @property
    def spec(self) -> str:
        return self.cron if self.cron is not None else f"every {self.every}"

    def first_run(self, now: datetime) -> datetime:
        """When a new schedule first fires: one interval from now, or the next cron time."""
        return now + self.every if self.every is not None else self._cron_after(now)

    def next_after(self, now: datetime, due_at: datetime) -> datetime:
        """The first tick after ``now`` on this schedule's grid (missed ticks are skipped:
        after downtime a schedule runs once, not once per missed tick)."""
        if self.every is not None:
            missed = (now - due_at) // self.every
            return due_at + self.every * (missed + 1)
        return self._cron_after(now)

    def _cron_after(self, moment: datetime) -> datetime:
        assert self.cron is not None
        result: datetime = croniter(self.cron, moment).get_next(datetime)
        return result


SCHEDULES: dict[str, ScheduleSpec] = {}


def register_schedule(
    name: str,
    job_name: str,
    *,
    every: timedelta | None = None,
    cron: str | None = None,
    args: dict[str, Any] | None = None,
) -> None:
    SCHEDULES[name] = ScheduleSpec(name, job_name, every, cron, args or {})


async def sync_schedules(session: AsyncSession, specs: dict[str, ScheduleSpec]) -> None:
    """Create rows for new schedules and re-time those whose spec changed.

    Several workers start at once: rows are inserted with ON CONFLICT DO NOTHING, and a
    re-timing is a compare-and-set on the old spec, so concurrent starts agree.
    """
    now = clock.now()
    rows = {
        name: text for name, text in await session.execute(select(Schedule.name, Schedule.spec))
    }
    for spec in specs.values():
        if spec.name not in rows:
            insert = pg_insert if is_postgres(session) else sqlite_insert
            await session.execute(
                insert(Schedule)
                .values(name=spec.name, spec=spec.spec, next_run_at=spec.first_run(now))
                .on_conflict_do_nothing(index_elements=["name"])
            )
        elif rows[spec.name] != spec.spec:
            await session.execute(
                update(Schedule)
                .where(Schedule.name == spec.name, Schedule.spec == rows[spec.name])
                .values(spec=spec.spec, next_run_at=spec.first_run(now))
                .execution_options(synchronize_session=False)
            )


async def tick(session: AsyncSession, specs: dict[str, ScheduleSpec]) -> list[str]:
    """Enqueue every due schedule this caller wins; returns the names it enqueued."""
    now = clock.now()
    due = (
        await session.execute(
            select(Schedule.name, Schedule.next_run_at).where(Schedule.next_run_at <= now)
        )
    ).all()
    fired: list[str] = []
    for name, due_at in due:
        spec = specs.get(name)
        if spec is None:
            continue
        next_at = spec.next_after(now, due_at)
        won = await session.execute(
            update(Schedule)
            .where(Schedule.name == name, Schedule.next_run_at == due_at)
            .values(next_run_at=next_at, last_run_at=now)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            enqueue(session, spec.job_name, {**spec.args, "scheduled_for": due_at.isoformat()})
            fired.append(name)
    return fired
