"""PostgreSQL: a change set's plan as ONE statement of data-modifying CTEs, run in autocommit
on the asyncpg driver (``core.rawsql``; a single statement is atomic on its own), compiled
once per shape of plan: one round trip however many rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

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
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import CTE

from kassa.core import rawsql
from kassa.core.change_plan import GuardPlan, Plan, Rows, first_key
from kassa.core.changes import Committed


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


def _guard_sets(plan: Plan) -> list[list[int]]:
    return _split(
        _sets([(g.table.name, *map(tuple, (g.key, g.expected, g.changed))) for g in plan.guards]),
        lambda i: (plan.guards[i].table, (*plan.guards[i].key, *plan.guards[i].expected,
                                           *plan.guards[i].changed)),
    )  # fmt: skip


def _ride_sets(plan: Plan) -> list[list[int]]:
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


def _guard_source(g: GuardPlan, j: int) -> Any:
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


def _statement(plan: Plan) -> ClauseElement:
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
            .returning(first_key(g.table))
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
                    select(first_key(g.table))
                    .where(*_eq(g.table, g.key, f"g{i}k_"), *_eq(g.table, g.expected, f"g{i}e_"))
                    .with_for_update()
                    .cte(f"lock{i}")
                )
                verdicts.append(exists(select(lock.c[0])))
            else:  # every member's row locked in its expected state
                source = _guard_source(g, j)
                lock = (
                    select(first_key(g.table))
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


def _params(plan: Plan) -> dict[str, Any]:
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


async def commit_statement(engine: AsyncEngine, plan: Plan) -> Committed:
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
