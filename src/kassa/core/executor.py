"""The one write path: commit a ``ChangeSet`` atomically, on either database.

- PostgreSQL (asyncpg): ONE statement of data-modifying CTEs, run in autocommit on the
  driver (``core.rawsql``; a single statement is atomic on its own), compiled once per shape
  of change set: one round trip however many rows, with a multi-row INSERT per table;
  guards, and ride-along updates, of one table with the same columns are one set-based
  statement over arrays (``unnest``), so a batch of 100 is not 100 statements to plan
  (``core.change_statement``; what is written is read off the change set in
  ``core.change_plan``).
- SQLite: the same rows as Core INSERTs and UPDATEs, flushed in one transaction (the one the
  reads ran in: ``BEGIN IMMEDIATE`` holds the write lock from the first read), the guard read
  from the UPDATE's rowcount.

A guarded change set commits all of its guarded part or none of it: with one guard the
UPDATE itself is the test; with several, each row is first locked in its expected state
(``SELECT ... FOR UPDATE``) and nothing is written unless every one was.

``unit()`` pairs a session for reads with the commit: on PostgreSQL the reads run in
autocommit (no BEGIN/COMMIT round trips) and their connection goes back to the pool before
the write takes one; on SQLite reads and writes share one transaction.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from kassa.core import rawsql
from kassa.core.change_plan import GuardPlan, Plan, first_key, parents_first, plan_of
from kassa.core.change_statement import commit_statement
from kassa.core.changes import ChangeSet, Committed
from kassa.core.errors import Conflict

T = TypeVar("T")


# -- SQLite: a flush in one transaction -------------------------------------------------------
def _where(table: Table, values: dict[str, Any]) -> list[ColumnElement[bool]]:
    return [table.c[c] == v for c, v in values.items()]


async def _guards_hold(conn: AsyncConnection, guards: list[GuardPlan]) -> bool:
    if len(guards) == 1 and guards[0].changed:
        g = guards[0]
        statement = update(g.table).where(*_where(g.table, {**g.key, **g.expected}))
        result = await conn.execute(statement.values(g.changed))
        return result.rowcount == 1
    for g in guards:  # several: check them all before writing any (the write lock is held)
        found = await conn.scalar(
            select(first_key(g.table)).where(*_where(g.table, {**g.key, **g.expected}))
        )
        if found is None:
            return False
    for g in guards:
        if g.changed:
            await conn.execute(update(g.table).where(*_where(g.table, g.key)).values(g.changed))
    return True


async def _commit_flush(conn: AsyncConnection, plan: Plan) -> Committed:
    matched = await _guards_hold(conn, plan.guards) if plan.guards else True
    for table, group in parents_first((plan.rows if matched else []) + plan.always):
        await conn.execute(insert(table), group)
    flags = []
    for u in plan.also:
        done = False
        if matched:
            result = await conn.execute(
                update(u.table).where(*_where(u.table, dict(u.where))).values(dict(u.values))
            )
            done = result.rowcount > 0
        flags.append(done)
    return Committed(matched, tuple(flags))


# -- units: reads, then one commit ------------------------------------------------------------
_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    found = _AUTOCOMMIT.get(engine)
    if found is None:
        found = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


def _stray(reads: AsyncSession, changes: ChangeSet) -> bool:
    """Rows added to the read session that the change set does not have (a row the change
    set has may be there too: put in a collection of an object that was read)."""
    described = {id(row) for row in (*changes.rows, *changes.always)}
    return any(id(row) not in described for row in reads.new)


class Unit:
    """A session for the reads of one step, and the commit of what the step describes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._driver = rawsql.driver_engine(sessions.kw.get("bind"))
        self._reads: AsyncSession | None = None

    @property
    def reads(self) -> AsyncSession:
        """The session to read through (made on first use: many steps read nothing)."""
        if self._reads is None:
            if self._driver is not None:
                bind = _autocommit(self._driver)
                self._reads = self._sessions(bind=bind, autoflush=False)
            else:
                self._reads = self._sessions(autoflush=False)
        return self._reads

    async def commit(self, changes: ChangeSet, *, regardless: bool = True) -> Committed:
        """Commit ``changes`` atomically; objects read through ``reads`` are not flushed (what
        they should become is in the change set). ``regardless=False`` leaves out the rows
        written regardless (an earlier commit of the same step wrote them)."""
        reads = self._reads
        if reads is not None and (reads.deleted or _stray(reads, changes)):
            raise RuntimeError("rows were added to a unit's read session: describe them instead")
        plan = plan_of(changes, regardless=regardless)
        if self._driver is not None:
            await self.close()  # the reads' connection back to the pool before the write's
            return await commit_statement(self._driver, plan)
        reads = self.reads
        reads.expunge_all()
        try:
            committed = await _commit_flush(await reads.connection(), plan)
            await reads.commit()
        except BaseException:
            await reads.rollback()
            raise
        return committed

    async def close(self) -> None:
        # A session that never read holds nothing: closing it would only cost time.
        if self._reads is not None and self._reads.in_transaction():
            await self._reads.close()


@asynccontextmanager
async def unit(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Unit]:
    step = Unit(sessions)
    try:
        yield step
    finally:
        await step.close()


async def commit(sessions: async_sessionmaker[AsyncSession], changes: ChangeSet) -> Committed:
    """Commit a change set whose step read nothing."""
    driver = rawsql.driver_engine(sessions.kw.get("bind"))
    if driver is not None:
        return await commit_statement(driver, plan_of(changes))
    async with unit(sessions) as step:
        return await step.commit(changes)


Describe = Callable[[AsyncSession], Awaitable[tuple[ChangeSet, T]]]


async def commit_fresh(
    sessions: async_sessionmaker[AsyncSession], describe: Describe[T], *, tries: int = 20
) -> T:
    """Read, describe, commit; if a guard missed (another request changed the rows since they
    were read), read again and describe again, until it matches or ``describe`` raises (the
    fresh state may forbid the change). Rows written regardless were committed by the first
    try: later tries drop theirs."""
    for attempt in range(tries):
        async with unit(sessions) as step:
            changes, value = await describe(step.reads)
            committed = await step.commit(changes, regardless=not attempt)
        if committed.matched:
            return value
    raise Conflict("The object was changed by other requests while this one ran; try again.")
