"""Schedules: rows are synced, due ticks are enqueued exactly once, missed ticks run once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kassa.core.clock import FrozenClock
from kassa.core.db import transaction
from kassa.jobs import scheduler
from kassa.jobs.models import Job, Schedule
from kassa.jobs.registry import JobContext, JobRegistry
from kassa.jobs.scheduler import ScheduleSpec
from tests.conftest import Backend
from tests.jobs.conftest import START, make_worker

EVERY_MINUTE = ScheduleSpec("test.every_minute", "test.tick", every=timedelta(minutes=1))
CRON = ScheduleSpec("test.cron", "test.tick", cron="*/15 * * * *", args={"kind": "cron"})
SPECS = {s.name: s for s in (EVERY_MINUTE, CRON)}


async def _schedules(db: Backend) -> dict[str, Schedule]:
    async with db.sessions() as session:
        return {s.name: s for s in (await session.scalars(select(Schedule))).all()}


async def _ticks(db: Backend) -> list[dict[str, object]]:
    async with db.sessions() as session:
        jobs = (await session.scalars(select(Job).where(Job.name == "test.tick"))).all()
        return sorted((j.args for j in jobs), key=str)


async def _sync(db: Backend, specs: dict[str, ScheduleSpec] = SPECS) -> None:
    async with transaction(db.sessions) as session:
        await scheduler.sync_schedules(session, specs)


async def _tick(db: Backend) -> list[str]:
    async with transaction(db.sessions) as session:
        return await scheduler.tick(session, SPECS)


async def test_sync_creates_rows_and_concurrent_starts_agree(
    db: Backend, frozen: FrozenClock
) -> None:
    await asyncio.gather(*(_sync(db) for _ in range(3)))  # three workers start together
    rows = await _schedules(db)
    assert {n: (r.spec, r.next_run_at) for n, r in rows.items()} == {
        "test.every_minute": ("every 0:01:00", START + timedelta(minutes=1)),
        "test.cron": ("*/15 * * * *", START + timedelta(minutes=15)),
    }
    frozen.advance(timedelta(seconds=30))
    await _sync(db)  # a restart does not move an unchanged schedule
    assert (await _schedules(db))["test.every_minute"].next_run_at == START + timedelta(minutes=1)
    changed = ScheduleSpec("test.every_minute", "test.tick", every=timedelta(minutes=5))
    await _sync(db, {changed.name: changed})  # a changed spec is re-timed
    row = (await _schedules(db))["test.every_minute"]
    assert (row.spec, row.next_run_at) == ("every 0:05:00", frozen.now() + timedelta(minutes=5))


async def test_a_due_schedule_is_enqueued_exactly_once_when_ticks_race(
    db: Backend, frozen: FrozenClock
) -> None:
    await _sync(db)
    assert await _tick(db) == []  # nothing due yet
    frozen.advance(timedelta(minutes=1))
    fired = await asyncio.gather(*(_tick(db) for _ in range(4)))  # four workers tick at once
    assert sorted(name for names in fired for name in names) == ["test.every_minute"]
    assert await _ticks(db) == [{"scheduled_for": (START + timedelta(minutes=1)).isoformat()}]
    assert (await _schedules(db))["test.every_minute"].next_run_at == START + timedelta(minutes=2)


async def test_missed_ticks_run_once_and_the_grid_is_kept(db: Backend, frozen: FrozenClock) -> None:
    await _sync(db)
    frozen.advance(timedelta(minutes=20, seconds=20))  # no worker ran for twenty minutes
    assert sorted(await _tick(db)) == ["test.cron", "test.every_minute"]
    assert await _tick(db) == []
    assert await _ticks(db) == [
        {"kind": "cron", "scheduled_for": (START + timedelta(minutes=15)).isoformat()},
        {"scheduled_for": (START + timedelta(minutes=1)).isoformat()},
    ]
    rows = await _schedules(db)
    assert rows["test.every_minute"].next_run_at == START + timedelta(minutes=21)
    assert rows["test.cron"].next_run_at == START + timedelta(minutes=30)


async def test_cron_schedules_fire_on_their_times(db: Backend, frozen: FrozenClock) -> None:
    cron_only = {CRON.name: CRON}
    async with transaction(db.sessions) as session:
        await scheduler.sync_schedules(session, cron_only)
    fired_at = []
    for minute in range(1, 46):
        frozen.set(START + timedelta(minutes=minute))
        async with transaction(db.sessions) as session:
            if await scheduler.tick(session, cron_only):
                fired_at.append(frozen.now().minute)
    assert fired_at == [15, 30, 45]


async def test_a_worker_ticks_and_runs_the_scheduled_job(
    db: Backend, registry: JobRegistry, frozen: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    async def tick_job(ctx: JobContext) -> None:
        seen.append(ctx.args["scheduled_for"])

    registry.register("test.tick", tick_job)
    worker = make_worker(db, registry, schedules={EVERY_MINUTE.name: EVERY_MINUTE})
    async with transaction(db.sessions) as session:
        await scheduler.sync_schedules(session, worker.schedules)
    frozen.advance(timedelta(minutes=1))
    with caplog.at_level(logging.INFO, logger="kassa.worker"):
        assert await worker.tick() == ["test.every_minute"]
    # a schedule firing is not news at INFO (a chain scan fires every block)
    assert not [r for r in caplog.records if r.getMessage() == "schedules fired"]
    assert await worker.tick() == []
    assert await worker.run_due() == 1
    assert seen == [(START + timedelta(minutes=1)).isoformat()]


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ScheduleSpec("x.y", "x.y")
    with pytest.raises(ValueError, match="exactly one"):
        ScheduleSpec("x.y", "x.y", every=timedelta(seconds=1), cron="* * * * *")
    with pytest.raises(ValueError, match="invalid cron"):
        ScheduleSpec("x.y", "x.y", cron="every tuesday")
    with pytest.raises(ValueError, match="positive"):
        ScheduleSpec("x.y", "x.y", every=timedelta(0))


def test_interval_grid_skips_missed_ticks() -> None:
    due = datetime(2026, 1, 1, tzinfo=UTC)
    spec = ScheduleSpec("x.y", "x.y", every=timedelta(seconds=10))
    assert spec.next_after(due, due) == due + timedelta(seconds=10)
    assert spec.next_after(due + timedelta(seconds=35), due) == due + timedelta(seconds=40)
