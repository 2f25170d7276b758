"""The change-set executor: the one write path, on both databases.

New rows, guarded updates ("only if still in state X"), rows written regardless, ride-along
updates; all of a change set or none of it; and models whose columns the executor could not
fill in are refused when they are declared.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ForeignKey, Integer, String, Table, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kassa.core import executor
from kassa.core.audit import AuditEntry
from kassa.core.changes import ChangeSet, Committed, RowUpdate, UnsupportedDefault, writable
from kassa.core.errors import Conflict
from kassa.jobs.models import Event, Job
from tests.conftest import Backend

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _job(job_id: str, status: str = "queued", **extra: Any) -> Job:
    values: dict[str, Any] = {
        "id": job_id,
        "name": "test.job",
        "args": {"n": 1, "nested": {"a": [1, None]}},
        "status": status,
        "max_attempts": 3,
        "run_at": T0,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(extra)
    return Job(**values)  # attempts, locked_by, ... left unset: defaults


def _event(event_id: str, **data: Any) -> Event:
    return Event(id=event_id, account_id=None, type="test.event", data=data, created_at=T0)


def _audit(entry_id: str) -> AuditEntry:
    return AuditEntry(
        id=entry_id,
        account_id=None,
        actor="test",
        action="test.done",
        object_type="job",
        object_id="job_1",
        before=None,
        after={"ok": True},
        request_id=None,
        ip=None,
        user_agent=None,
        created_at=T0,
    )


async def _load(db: Backend, model: type[Any], object_id: str) -> Any:
    async with db.sessions() as s:
        return await s.get(model, object_id)


async def _count(db: Backend, model: type[Any]) -> int:
    async with db.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model)) or 0


def _jobs_table() -> Table:
    table = Job.__table__
    assert isinstance(table, Table)
    return table


async def test_new_rows_of_several_tables_are_written_with_their_values(db: Backend) -> None:
    changes = ChangeSet()
    for i in range(3):  # several rows of one table: one multi-row INSERT on PostgreSQL
        changes.add(_job(f"job_{i}"))
    changes.add(_event("evt_1", amount=1000, when="x"))
    changes.add(_audit("aud_1"))
    assert await executor.commit(db.sessions, changes) == Committed(True)
    job = await _load(db, Job, "job_2")
    assert (job.status, job.attempts, job.locked_by, job.finished_at) == ("queued", 0, None, None)
    assert job.args == {"n": 1, "nested": {"a": [1, None]}}
    assert job.run_at == T0  # UTC, microseconds kept
    event = await _load(db, Event, "evt_1")
    assert event.livemode is False and event.data == {"amount": 1000, "when": "x"}
    assert (await _load(db, AuditEntry, "aud_1")).after == {"ok": True}
    assert await _count(db, Job) == 3


async def _seed(db: Backend, *jobs: Job) -> None:
    changes = ChangeSet()
    for job in jobs:
        changes.add(job)
    await executor.commit(db.sessions, changes)


async def _read_job(step: executor.Unit, job_id: str) -> Job:
    job = await step.reads.get(Job, job_id)
    assert job is not None
    return job


async def test_a_guard_that_matches_writes_the_update_and_everything_with_it(
    db: Backend,
) -> None:
    await _seed(db, _job("job_1"), _job("job_2"))
    async with executor.unit(db.sessions) as step:
        job = await _read_job(step, "job_1")
        changes = ChangeSet()
        changes.guard(job, status="queued")
        job.status, job.attempts, job.locked_by = "running", 1, "worker-1"
        job.args = {**job.args, "n": 2}
        changes.add(_event("evt_1"))
        changes.regardless.add(_audit("aud_1"))
        flag = changes.ride_along(
            RowUpdate(_jobs_table(), {"id": "job_2", "status": "queued"}, {"status": "dead"})
        )
        missing = changes.ride_along(RowUpdate(_jobs_table(), {"id": "job_9"}, {"status": "dead"}))
        committed = await step.commit(changes)
    assert committed == Committed(True, (True, False))
    assert (flag, missing) == (0, 1)
    job = await _load(db, Job, "job_1")
    assert (job.status, job.attempts, job.locked_by, job.args["n"]) == ("running", 1, "worker-1", 2)
    assert (await _load(db, Job, "job_2")).status == "dead"
    assert await _count(db, Event) == 1 and await _count(db, AuditEntry) == 1


async def test_a_guard_on_a_column_that_is_still_null_matches(db: Backend) -> None:
    """``locked_by`` is NULL when read: "still NULL" must match (SQL's ``=`` never matches a
    NULL), and a row that is no longer NULL must not."""
    await _seed(db, _job("job_1"), _job("job_2", locked_by="worker-9"))
    async with executor.unit(db.sessions) as step:
        free = await _read_job(step, "job_1")
        changes = ChangeSet()
        changes.guard(free, locked_by=None)
        free.locked_by = "worker-1"
        assert (await step.commit(changes)).matched
    assert (await _load(db, Job, "job_1")).locked_by == "worker-1"
    async with executor.unit(db.sessions) as step:
        taken = await _read_job(step, "job_2")
        taken.locked_by = None  # as if read before worker-9 took it
        changes = ChangeSet()
        changes.guard(taken, locked_by=None)
        taken.locked_by = "worker-1"
        assert not (await step.commit(changes)).matched
    assert (await _load(db, Job, "job_2")).locked_by == "worker-9"


async def test_a_guard_that_misses_writes_only_the_rows_written_regardless(db: Backend) -> None:
    await _seed(db, _job("job_1"), _job("job_2"))
    async with executor.unit(db.sessions) as step:
        stale = await _read_job(step, "job_1")
    await _meanwhile(db, "UPDATE jobs SET status = 'succeeded' WHERE id = 'job_1'")
    changes = ChangeSet()
    changes.guard(stale, status="queued")
    stale.status = "running"
    changes.add(_event("evt_1"))
    changes.regardless.add(_audit("aud_1"))
    changes.ride_along(RowUpdate(_jobs_table(), {"id": "job_2"}, {"status": "dead"}))
    committed = await executor.commit(db.sessions, changes)
    assert committed == Committed(False, (False,))
    assert (await _load(db, Job, "job_1")).status == "succeeded"
    assert (await _load(db, Job, "job_2")).status == "queued"
    assert await _count(db, Event) == 0 and await _count(db, AuditEntry) == 1


async def _meanwhile(db: Backend, sql: str) -> None:
    """Another request changes a row after it was read."""
    async with db.sessions() as s, s.begin():
        await s.execute(text(sql))


async def test_several_guards_commit_together_or_not_at_all(db: Backend) -> None:
    await _seed(db, _job("job_1"), _job("job_2", status="running"))
    for attempt in ("stale", "fresh"):
        async with executor.unit(db.sessions) as step:
            first, second = await _read_job(step, "job_1"), await _read_job(step, "job_2")
        if attempt == "stale":
            await _meanwhile(db, "UPDATE jobs SET attempts = 7 WHERE id = 'job_2'")
        changes = ChangeSet()
        changes.guard(first, "status")
        changes.guard(second, "attempts", status="running")
        first.status, second.attempts = "dead", second.attempts + 1
        changes.add(_event(f"evt_{attempt}"))
        committed = await executor.commit(db.sessions, changes)
        assert committed.matched is (attempt == "fresh")
        if attempt == "stale":  # the first guard held, the second did not: nothing written
            assert (await _load(db, Job, "job_1")).status == "queued"
    assert (await _load(db, Job, "job_1")).status == "dead"
    assert (await _load(db, Job, "job_2")).attempts == 8
    assert [e.id for e in await _events(db)] == ["evt_fresh"]


async def _events(db: Backend) -> list[Event]:
    async with db.sessions() as s:
        return list((await s.scalars(select(Event))).all())


async def test_a_guard_that_changes_nothing_is_a_check(db: Backend) -> None:
    await _seed(db, _job("job_1"))
    for attempt in ("stale", "fresh"):
        async with executor.unit(db.sessions) as step:
            job = await _read_job(step, "job_1")
        if attempt == "stale":
            await _meanwhile(db, "UPDATE jobs SET status = 'running' WHERE id = 'job_1'")
        changes = ChangeSet()
        changes.guard(job, "status")
        changes.add(_event(f"evt_{attempt}"))
        assert (await executor.commit(db.sessions, changes)).matched is (attempt == "fresh")
    assert [e.id for e in await _events(db)] == ["evt_fresh"]


async def test_a_commit_that_fails_writes_nothing(db: Backend) -> None:
    await _seed(db, _job("job_1"))
    async with executor.unit(db.sessions) as step:
        job = await _read_job(step, "job_1")
        changes = ChangeSet()
        changes.guard(job, status="queued")
        job.status = "running"
        changes.add(_event("evt_1"))
        changes.add(_audit("aud_1"))
        changes.regardless.add(_job("job_1"))  # its id is taken: the whole commit fails
        with pytest.raises(IntegrityError):
            await step.commit(changes)
    assert (await _load(db, Job, "job_1")).status == "queued"
    assert (await _count(db, Event), await _count(db, AuditEntry)) == (0, 0)


async def test_rows_added_to_the_read_session_are_refused(db: Backend) -> None:
    async with executor.unit(db.sessions) as step:
        step.reads.add(_event("evt_1"))
        with pytest.raises(RuntimeError, match="describe them instead"):
            await step.commit(ChangeSet())
    assert await _count(db, Event) == 0
    async with executor.unit(db.sessions) as step:  # there too (a collection of a row read)
        changes = ChangeSet()
        described = _event("evt_2")
        step.reads.add(described)
        changes.add(described)
        await step.commit(changes)
    assert [e.id for e in await _events(db)] == ["evt_2"]


async def test_commit_fresh_describes_again_from_fresh_reads_after_a_miss(db: Backend) -> None:
    await _seed(db, _job("job_1"))
    async with executor.unit(db.sessions) as step:
        stale = await _read_job(step, "job_1")
    await _meanwhile(db, "UPDATE jobs SET attempts = 1 WHERE id = 'job_1'")
    tries: list[int] = []

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, int]:
        job = stale if not tries else await reads.get(Job, "job_1")
        assert job is not None
        tries.append(job.attempts)
        changes = ChangeSet()
        changes.guard(job, "attempts")
        job.attempts += 1
        changes.regardless.add(_audit(f"aud_{len(tries)}"))
        return changes, job.attempts

    assert await executor.commit_fresh(db.sessions, describe) == 2
    assert tries == [0, 1]
    assert (await _load(db, Job, "job_1")).attempts == 2
    assert await _count(db, AuditEntry) == 1  # the rows written regardless: once

    async def never(reads: AsyncSession) -> tuple[ChangeSet, None]:
        changes = ChangeSet()
        changes.guard(stale, "attempts")
        stale.status = "dead"
        return changes, None

    with pytest.raises(Conflict):
        await executor.commit_fresh(db.sessions, never, tries=2)


def test_an_undeclared_model_cannot_be_written() -> None:
    class Base(DeclarativeBase):
        pass

    class Note(Base):
        __tablename__ = "notes_undeclared"
        id: Mapped[str] = mapped_column(String(10), primary_key=True)

    with pytest.raises(TypeError, match="writable"):
        ChangeSet().add(Note(id="n"))


def test_defaults_the_executor_cannot_reproduce_are_refused_where_declared() -> None:
    class Base(DeclarativeBase):
        pass

    class ServerDefault(Base):
        __tablename__ = "t_server_default"
        id: Mapped[str] = mapped_column(String(10), primary_key=True)
        status: Mapped[str] = mapped_column(String(10), server_default="new")

    class Computed(Base):
        __tablename__ = "t_computed"
        id: Mapped[str] = mapped_column(String(10), primary_key=True)
        at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))

    class OnUpdate(Base):
        __tablename__ = "t_onupdate"
        id: Mapped[str] = mapped_column(String(10), primary_key=True)
        n: Mapped[int] = mapped_column(onupdate=1)

    class Numbered(Base):
        __tablename__ = "t_numbered"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    class Fine(Base):
        __tablename__ = "t_fine"
        id: Mapped[str] = mapped_column(String(10), primary_key=True)
        parent: Mapped[str | None] = mapped_column(ForeignKey("t_server_default.id"))
        n: Mapped[int] = mapped_column(default=0)  # a constant: the executor writes it

    for model, says in [
        (ServerDefault, "ServerDefault.status has a server-side default"),
        (Computed, "Computed.at has a computed default"),
        (OnUpdate, "OnUpdate.n is given a value by onupdate="),
        (Numbered, "Numbered.id is numbered by the database"),
    ]:
        with pytest.raises(UnsupportedDefault, match=says):
            writable(model)
    writable(Fine)
    ChangeSet().add(Fine(id="f"))  # declared: accepted


def test_every_model_written_through_change_sets_is_declared() -> None:
    """The declarations run when the models are imported, i.e. at start-up."""
    import kassa.schema  # noqa: F401  (imports every model)
    from kassa.accounts.idempotency import IdempotencyKey
    from kassa.core import changes
    from kassa.payins.models import Payment, PaymentAttempt, Refund

    for model in (Payment, PaymentAttempt, Refund, Event, Job, AuditEntry, IdempotencyKey):
        assert changes.model_of(model.__new__(model)).table.name == model.__tablename__


async def test_times_are_kept_exactly(db: Backend) -> None:
    later = T0 + timedelta(microseconds=1)
    await _seed(db, _job("job_1", run_at=later))
    assert (await _load(db, Job, "job_1")).run_at == later


async def test_guards_of_one_table_with_the_same_columns_commit_all_or_none(db: Backend) -> None:
    """Many rows guarded alike (a payout batch's transactions) are one set on PostgreSQL:
    still every row checked in its expected state (NULL included), all written or none."""
    later = T0 + timedelta(microseconds=7)
    await _seed(db, *(_job(f"job_{n}") for n in range(1, 5)))
    for attempt in ("stale", "fresh"):
        async with executor.unit(db.sessions) as step:
            jobs = [await _read_job(step, f"job_{n}") for n in range(1, 4)]
        if attempt == "stale":
            await _meanwhile(db, "UPDATE jobs SET locked_by = 'worker-9' WHERE id = 'job_3'")
        changes = ChangeSet()
        for job in jobs:
            changes.guard(job, status="queued", locked_by=None)
            job.status, job.locked_by, job.run_at = "running", "worker-1", later
        changes.add(_event(f"evt_{attempt}"))
        committed = await executor.commit(db.sessions, changes)
        assert committed.matched is (attempt == "fresh")
        if attempt == "stale":  # two of three still held: nothing written
            assert [(await _load(db, Job, f"job_{n}")).status for n in (1, 2)] == ["queued"] * 2
            await _meanwhile(db, "UPDATE jobs SET locked_by = NULL WHERE id = 'job_3'")
    for n in range(1, 4):
        job = await _load(db, Job, f"job_{n}")
        assert (job.status, job.locked_by, job.run_at) == ("running", "worker-1", later)
    assert (await _load(db, Job, "job_4")).status == "queued"
    assert [e.id for e in await _events(db)] == ["evt_fresh"]


async def test_ride_alongs_of_one_table_with_the_same_columns_each_report_whether_they_ran(
    db: Backend,
) -> None:
    later = T0 + timedelta(seconds=1)
    await _seed(db, _job("job_1"), _job("job_2", status="running"), _job("job_3"), _job("job_4"))
    for guarded in ("misses", "holds"):
        async with executor.unit(db.sessions) as step:
            first = await _read_job(step, "job_1")
        if guarded == "misses":
            await _meanwhile(db, "UPDATE jobs SET attempts = 5 WHERE id = 'job_1'")
        changes = ChangeSet()
        changes.guard(first, "attempts")
        first.attempts += 1
        for job_id in ("job_2", "job_3", "job_9", "job_4"):
            update = RowUpdate(_jobs_table(), {"id": job_id, "status": "queued"}, {"run_at": later})
            changes.ride_along(update)
        committed = await executor.commit(db.sessions, changes)
        if guarded == "misses":
            assert committed == Committed(False, (False, False, False, False))
            assert (await _load(db, Job, "job_3")).run_at == T0
    assert committed == Committed(True, (False, True, False, True))
    assert [(await _load(db, Job, f"job_{n}")).run_at for n in (2, 3, 4)] == [T0, later, later]
    assert (await _load(db, Job, "job_1")).attempts == 6
