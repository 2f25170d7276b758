"""What the executor writes for a change set, read off it once: each guard's key, expected and
changed columns, and the new rows grouped by table (``core.executor`` commits a plan; on
PostgreSQL ``core.change_statement`` makes it one statement)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from kassa.core.changes import ChangeSet, RowUpdate, row_of

Rows = list[tuple[Table, list[dict[str, Any]]]]


@dataclass(frozen=True)
class GuardPlan:
    table: Table
    key: dict[str, Any]
    expected: dict[str, Any]
    changed: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    guards: list[GuardPlan]
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


def parents_first(rows: Rows) -> Rows:
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


def plan_of(changes: ChangeSet, *, regardless: bool = True) -> Plan:
    guards = [GuardPlan(g.table, g.key(), g.expected, g.changed()) for g in changes.guards]
    always = _grouped(changes.always) if regardless else []
    return Plan(guards, _grouped(changes.rows), always, list(changes.also))


def first_key(table: Table) -> Any:
    return next(iter(table.primary_key.columns))
