"""The one write path: commit a ``ChangeSet`` atomically, on either database.

- PostgreSQL (asyncpg): ONE statement of data-modifying CTEs, run in autocommit on the
  driver (``core.rawsql``; a single statement is atomic on its own), compiled once per shape
  of change set: one round trip however many rows, with a multi-row INSERT per table;
  guards, and ride-along updates, of one table with the same columns are one set-based
  statement over arrays (``unnest``), so a batch of 100 is not 100 statements to plan.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    JSON,
    ClauseElement,
    ColumnElement,
    Integer,
    Table,
    and_,
    bindparam,
    cast,
    column,
    exists,
    func,
    insert,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import CTE

from kassa.core import rawsql
from kassa.core.changes import ChangeSet, Committed, RowUpdate, row_of
from kassa.core.errors import Conflict

T = TypeVar("T")
Rows = list[tuple[Table, list[dict[str, Any]]]]


@dataclass(frozen=True)
class _GuardPlan:
    table: Table
    key: dict[str, Any]
    expected: dict[str, Any]
    changed: dict[str, Any]


@dataclass(frozen=True)
class _Plan:
    guards: list[_GuardPlan]
    rows: Rows  # written if the guards match
    always: Rows
    also: list[RowUpdate]

    def shape(self) -> tuple[Any, ...]:
        return (
            "changes",
            tuple((g.table.name, *map(tuple, (g.key, g.expected, g.changed))) for g in self.guards),
            tuple((t.name, len(rows)) for t, rows in self.rows),
            tuple((t.name, len(rows)) for t, rows in self.always),
            tuple((u.table.name, tuple(u.where), tuple(u.values)) for u in self.also),
        )


_POSITION: dict[str, int] = {}


def _position(table: Table) -> int:
    position = _POSITION.get(table.name)
    if position is None:
        assert table.metadata is not None
        _POSITION.clear()
        _POSITION.update({t.name: i for i, t in enumerate(table.metadata.sorted_tables)})
        position = _POSITION[table.name]
    return position


def _parents_first(rows: Rows) -> Rows:
    """Parents before children, so a flush never meets a foreign key to a row not yet there
    (one statement on PostgreSQL checks its foreign keys at its end)."""
    return sorted(rows, key=lambda group: _position(group[0]))


def _grouped(instances: Iterable[Any]) -> Rows:
    """The rows of each table, tables in the order they first appear."""
    groups: dict[str, tuple[Table, list[dict[str, Any]]]] = {}
    for instance in instances:
        table, row = row_of(instance)
        group = groups.get(table.name)
        if group is None:
            group = groups[table.name] = (table, [])
        group[1].append(row)
    return list(groups.values())


def _plan(changes: ChangeSet, *, regardless: bool = True) -> _Plan:
    guards = [_GuardPlan(g.table, g.key(), g.expected, g.changed()) for g in changes.guards]
    always = _grouped(changes.always) if regardless else []
    return _Plan(guards, _grouped(changes.rows), always, list(changes.also))


# -- PostgreSQL: one statement ------------------------------------------------------------------
# Guards, and ride-along updates, of one table with the same columns form a set: ONE statement
# over arrays (unnest) however many rows, not one statement each. A payout batch guards 100
# transactions and updates the commissions of each: 200 statements in the CTE, planned and run
# one by one, were most of its time.
def _sets(signatures: list[tuple[Any, ...]]) -> list[list[int]]:
    """Indexes grouped by signature, groups in the order they first appear."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, signature in enumerate(signatures):
        groups.setdefault(signature, []).append(i)
    return list(groups.values())


def _arrayable(table: Table, columns: Iterable[str]) -> bool:
    # JSON and array values do not travel inside a PostgreSQL array parameter as they are
    return not any(isinstance(table.c[c].type, JSON | ARRAY) for c in columns)


def _guard_sets(plan: _Plan) -> list[list[int]]:
    return _split(
        _sets([(g.table.name, *map(tuple, (g.key, g.expected, g.changed))) for g in plan.guards]),
        lambda i: (plan.guards[i].table, (*plan.guards[i].key, *plan.guards[i].expected,
                                           *plan.guards[i].changed)),
    )  # fmt: skip


def _ride_sets(plan: _Plan) -> list[list[int]]:
    return _split(
        _sets([(u.table.name, tuple(u.where), tuple(u.values)) for u in plan.also]),
        lambda i: (plan.also[i].table, (*plan.also[i].where, *plan.also[i].values)),
    )


def _split(
    groups: list[list[int]], columns_of: Callable[[int], tuple[Table, tuple[str, ...]]]
) -> list[list[int]]:
    """Groups whose columns cannot go in arrays become one group per member."""
    found: list[list[int]] = []
    for group in groups:
        table, columns = columns_of(group[0])
        found.extend([group] if _arrayable(table, columns) else [[i] for i in group])
    return found


def _unnest(columns: list[tuple[str, Any]], prefix: str) -> Any:
    """``unnest($1::type[], $2::type[], ...) AS name(label, ...)``: one row per member of a
    set; ``columns`` is (label, SQL type) pairs, each array bound as ``prefix + label``."""
    arrays = [cast(bindparam(prefix + label), ARRAY(type_)) for label, type_ in columns]
    labels = [column(label, type_) for label, type_ in columns]
    return func.unnest(*arrays).table_valued(*labels).render_derived(name=prefix.rstrip("_"))


def _typed(table: Table, tag: str, columns: Iterable[str]) -> list[tuple[str, Any]]:
    return [(tag + c, table.c[c].type) for c in columns]


def _guard_source(g: _GuardPlan, j: int) -> Any:
    return _unnest(
        _typed(g.table, "k_", g.key) + _typed(g.table, "e_", g.expected)
        + _typed(g.table, "s_", g.changed),
        f"G{j}_",
    )  # fmt: skip


def _eq_set(table: Table, source: Any, columns: Iterable[str], tag: str) -> list[Any]:
    found = []
    for c in columns:
        value = source.c[tag + c]
        column_ = table.c[c]
        found.append(column_.is_not_distinct_from(value) if column_.nullable else column_ == value)
    return found


def _eq(table: Table, values: Iterable[str], prefix: str) -> list[ColumnElement[bool]]:
    """Equal to the bound values; NULL-safe on nullable columns (a guard "still NULL" must
    match a NULL, which ``=`` never does), plain ``=`` on the others so indexes serve."""
    found: list[ColumnElement[bool]] = []
    for c in values:
        column, bound = table.c[c], bindparam(prefix + c, type_=table.c[c].type)
        found.append(column.is_not_distinct_from(bound) if column.nullable else column == bound)
    return found


def _binds(table: Table, values: Iterable[str], prefix: str) -> dict[str, Any]:
    return {c: bindparam(prefix + c, type_=table.c[c].type) for c in values}


def _first_key(table: Table) -> Any:
    return next(iter(table.primary_key.columns))


def _inserts(rows: Rows, matched: ColumnElement[bool] | None, prefix: str) -> list[CTE]:
    ctes: list[CTE] = []
    for t, (table, group) in enumerate(rows):
        names = list(group[0])
        binds = [_binds(table, names, f"{prefix}{t}_{n}_") for n in range(len(group))]
        if matched is None:
            statement = insert(table).values(binds if len(binds) > 1 else binds[0])
        else:
            selects = [select(*[b[c].label(c) for c in names]).where(matched) for b in binds]
            source = selects[0] if len(selects) == 1 else union_all(*selects)
            statement = insert(table).from_select(names, source)
        ctes.append(statement.cte(f"{prefix}{t}"))
    return ctes


def _statement(plan: _Plan) -> ClauseElement:
    ctes: list[CTE] = []
    matched: ColumnElement[bool]
    if not plan.guards:
        matched = true()
    elif len(plan.guards) == 1 and plan.guards[0].changed:
        g = plan.guards[0]
        upd = (
            update(g.table)
            .where(*_eq(g.table, g.key, "g0k_"), *_eq(g.table, g.expected, "g0e_"))
            .values(_binds(g.table, g.changed, "g0s_"))
            .returning(_first_key(g.table))
            .cte("g0")
        )
        ctes.append(upd)
        matched = exists(select(upd.c[0]))
    else:
        sets = _guard_sets(plan)
        verdicts: list[ColumnElement[bool]] = []
        for j, members in enumerate(sets):
            g = plan.guards[members[0]]
            if len(members) == 1:
                i = members[0]
                lock = (
                    select(_first_key(g.table))
                    .where(*_eq(g.table, g.key, f"g{i}k_"), *_eq(g.table, g.expected, f"g{i}e_"))
                    .with_for_update()
                    .cte(f"lock{i}")
                )
                verdicts.append(exists(select(lock.c[0])))
            else:  # every member's row locked in its expected state
                source = _guard_source(g, j)
                lock = (
                    select(_first_key(g.table))
                    .where(
                        *_eq_set(g.table, source, g.key, "k_"),
                        *_eq_set(g.table, source, g.expected, "e_"),
                    )
                    .with_for_update(of=g.table)
                    .cte(f"lockG{j}")
                )
                found = select(func.count()).select_from(lock).scalar_subquery()
                verdicts.append(found == bindparam(f"G{j}n", type_=Integer))
            ctes.append(lock)
        # Decided once, in its own CTE, and read by reference: spelled out in every statement
        # that depends on it, a change set of n guards and m rows grew as n x m.
        decided = select(and_(*verdicts).label("ok")).cte("matched")
        ctes.append(decided)
        matched = select(decided.c.ok).scalar_subquery()
        for j, members in enumerate(sets):
            g = plan.guards[members[0]]
            if not g.changed:
                continue
            if len(members) == 1:
                i = members[0]
                ctes.append(
                    update(g.table)
                    .where(*_eq(g.table, g.key, f"g{i}k_"), matched)
                    .values(_binds(g.table, g.changed, f"g{i}s_"))
                    .cte(f"g{i}")
                )
            else:
                source = _guard_source(g, j)
                ctes.append(
                    update(g.table)
                    .where(*_eq_set(g.table, source, g.key, "k_"), matched)
                    .values({c: source.c["s_" + c] for c in g.changed})
                    .cte(f"G{j}")
                )
    ctes += _inserts(plan.rows, matched if plan.guards else None, "r")
    ctes += _inserts(plan.always, None, "a")
    flags = []
    for j, members in enumerate(_ride_sets(plan)):
        u = plan.also[members[0]]
        if len(members) == 1:
            i = members[0]
            ride = (
                update(u.table)
                .where(*_eq(u.table, u.where, f"x{i}w_"), matched)
                .values(_binds(u.table, u.values, f"x{i}v_"))
                .returning(literal_column("1").label("done"))
                .cte(f"x{i}")
            )
            ctes.append(ride)
            flags.append(exists(select(ride.c.done)).label(f"x{i}"))
        else:  # the members that updated a row report their index
            index = ("i", Integer())
            columns = [index, *_typed(u.table, "w_", u.where), *_typed(u.table, "v_", u.values)]
            source = _unnest(columns, f"X{j}_")
            ride = (
                update(u.table)
                .where(*_eq_set(u.table, source, u.where, "w_"), matched)
                .values({c: source.c["v_" + c] for c in u.values})
                .returning(source.c.i.label("i"))
                .cte(f"X{j}")
            )
            ctes.append(ride)
            flags.append(select(func.array_agg(ride.c.i)).scalar_subquery().label(f"X{j}"))
    return select(matched.label("matched"), *flags).add_cte(*ctes)


def _params(plan: _Plan) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for j, members in enumerate(_guard_sets(plan)):
        if len(members) == 1:
            i, g = members[0], plan.guards[members[0]]
            for prefix, values in (
                (f"g{i}k_", g.key), (f"g{i}e_", g.expected), (f"g{i}s_", g.changed)
            ):  # fmt: skip
                for c, v in values.items():
                    params[prefix + c] = v
            continue
        params[f"G{j}n"] = len(members)
        guards = [plan.guards[i] for i in members]
        for tag, of in (("k_", "key"), ("e_", "expected"), ("s_", "changed")):
            for c in getattr(guards[0], of):
                params[f"G{j}_{tag}{c}"] = [getattr(g, of)[c] for g in guards]
    for letter, rows in (("r", plan.rows), ("a", plan.always)):
        for t, (_, group) in enumerate(rows):
            for n, row in enumerate(group):
                prefix = f"{letter}{t}_{n}_"
                for c, v in row.items():
                    params[prefix + c] = v
    for j, members in enumerate(_ride_sets(plan)):
        if len(members) == 1:
            i, u = members[0], plan.also[members[0]]
            params.update({f"x{i}w_{c}": v for c, v in u.where.items()})
            params.update({f"x{i}v_{c}": v for c, v in u.values.items()})
            continue
        updates = [plan.also[i] for i in members]
        params[f"X{j}_i"] = members
        for c in updates[0].where:
            params[f"X{j}_w_{c}"] = [u.where[c] for u in updates]
        for c in updates[0].values:
            params[f"X{j}_v_{c}"] = [u.values[c] for u in updates]
    return params


async def _commit_statement(engine: AsyncEngine, plan: _Plan) -> Committed:
    raw = rawsql.compile_once(plan.shape(), lambda: _statement(plan), engine.dialect)
    row = await rawsql.fetchrow(engine, raw, _params(plan))
    done = [False] * len(plan.also)
    for value, members in zip(row[1:], _ride_sets(plan), strict=True):
        if len(members) == 1:
            done[members[0]] = bool(value)
        else:
            applied = set(value or ())
            for i in members:
                done[i] = i in applied
    return Committed(bool(row[0]), tuple(done))


# -- SQLite: a flush in one transaction -------------------------------------------------------
def _where(table: Table, values: dict[str, Any]) -> list[ColumnElement[bool]]:
    return [table.c[c] == v for c, v in values.items()]


async def _guards_hold(conn: AsyncConnection, guards: list[_GuardPlan]) -> bool:
    if len(guards) == 1 and guards[0].changed:
        g = guards[0]
        statement = update(g.table).where(*_where(g.table, {**g.key, **g.expected}))
        result = await conn.execute(statement.values(g.changed))
        return result.rowcount == 1
    for g in guards:  # several: check them all before writing any (the write lock is held)
        found = await conn.scalar(
            select(_first_key(g.table)).where(*_where(g.table, {**g.key, **g.expected}))
        )
        if found is None:
            return False
    for g in guards:
        if g.changed:
            await conn.execute(update(g.table).where(*_where(g.table, g.key)).values(g.changed))
    return True


async def _commit_flush(conn: AsyncConnection, plan: _Plan) -> Committed:
    matched = await _guards_hold(conn, plan.guards) if plan.guards else True
    for table, group in _parents_first((plan.rows if matched else []) + plan.always):
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
        plan = _plan(changes, regardless=regardless)
        if self._driver is not None:
            await self.close()  # the reads' connection back to the pool before the write's
            return await _commit_statement(self._driver, plan)
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
        return await _commit_statement(driver, _plan(changes))
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
