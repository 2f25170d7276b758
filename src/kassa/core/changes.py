"""Change sets: what a use case writes, described as data, for ``core.executor`` to commit.

A use case reads through its repository, then says what it writes:

- new rows (``add``): written with the change; if the change set has guards, only if they
  all matched;
- guarded updates (``guard``): "update this row only if its columns still hold these values";
  what is SET is what the use case changes on the object after the guard (a diff);
- rows written whether or not the guards matched (``regardless.add``): the record of a
  provider call, which happened either way;
- ride-along updates (``ride_along``): a row of another table updated only if the guards
  matched, reporting whether it was (the API stores its response this way, atomically with
  the result it describes).

``emit()``, ``enqueue()``, ``audit.record()`` and the use cases write to a ``Writes``: a
``ChangeSet`` or an ``AsyncSession`` alike, so the same code describes a change or adds it
to a session's transaction.

Only models declared with ``writable()`` go through change sets; the declaration refuses
columns whose values the executor could not reproduce (server defaults, callable defaults,
on-update values), at import time, so a model that would be written wrongly never starts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Mapper


class Writes(Protocol):
    """Where new rows go: a ChangeSet, or a session (the row joins its transaction)."""

    def add(self, instance: Any, /) -> None: ...


class UnsupportedDefault(TypeError):
    """A model declared writable has a column value only the database or SQLAlchemy's flush
    would fill in; the executor writes exactly the row it is given, so it would be lost."""


@dataclass(frozen=True)
class _Model:
    table: Table
    columns: tuple[tuple[str, str, Any], ...]  # (attribute, column key, scalar default)
    column_of: Mapping[str, str]  # attribute -> column key
    primary_key: tuple[str, ...]  # column keys


_MODELS: dict[type[Any], _Model] = {}
_TABLES: set[str] = set()


def writable(*models: type[Any]) -> None:
    """Declare ``models`` written through change sets; raise UnsupportedDefault for a column
    the executor cannot fill in as a flush would (called where the models are defined)."""
    for model in models:
        mapper: Mapper[Any] = inspect(model)
        table = mapper.local_table
        assert isinstance(table, Table)
        columns: list[tuple[str, str, Any]] = []
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            where = f"{model.__name__}.{prop.key}"
            if column.server_default is not None or column.server_onupdate is not None:
                raise UnsupportedDefault(f"{where} has a server-side default; set it in code")
            if column.onupdate is not None:
                raise UnsupportedDefault(
                    f"{where} is given a value by onupdate=; assign it in code"
                )
            default = column.default
            if default is not None and not default.is_scalar:
                raise UnsupportedDefault(f"{where} has a computed default; set it in code")
            if column is table.autoincrement_column:
                raise UnsupportedDefault(f"{where} is numbered by the database; give it an id")
            scalar = default.arg if default is not None and default.is_scalar else None
            columns.append((prop.key, column.key, scalar))
        column_of = {attr: key for attr, key, _ in columns}
        primary = tuple(str(c.key) for c in mapper.primary_key)
        _MODELS[model] = _Model(table, tuple(columns), column_of, primary)
        _TABLES.add(table.name)


def model_of(instance: Any) -> _Model:
    model = _MODELS.get(type(instance))
    if model is None:
        raise TypeError(
            f"{type(instance).__name__} is not declared with kassa.core.changes.writable()"
        )
    return model


def row_of(instance: Any) -> tuple[Table, dict[str, Any]]:
    """The table and column values of an ORM object; an unset column gets its scalar default
    (as a flush would give it) or None.

    Reads the instance dict directly: the instrumented attributes cost more than the rest of
    building a statement, and these objects are never lazy-loaded."""
    model = model_of(instance)
    state = instance.__dict__
    return model.table, {key: state.get(attr, default) for attr, key, default in model.columns}


def _copied(values: dict[str, Any]) -> dict[str, Any]:
    # JSON values may be changed in place after the guard: keep what they were.
    return {k: copy.deepcopy(v) if isinstance(v, dict | list) else v for k, v in values.items()}


@dataclass
class Guard:
    """Update ``instance``'s row only if ``expected`` (column key -> value) still holds."""

    instance: Any
    expected: dict[str, Any]
    before: dict[str, Any]  # the row when the guard was set: what changed since is SET

    @property
    def table(self) -> Table:
        return model_of(self.instance).table

    def key(self) -> dict[str, Any]:
        return {c: self.before[c] for c in model_of(self.instance).primary_key}

    def changed(self) -> dict[str, Any]:
        _, after = row_of(self.instance)
        return {k: v for k, v in after.items() if v != self.before[k]}


@dataclass(frozen=True)
class RowUpdate:
    """UPDATE ``table`` SET ``values`` WHERE each column in ``where`` equals its value."""

    table: Table
    where: Mapping[str, Any]
    values: Mapping[str, Any]


class _Regardless:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def add(self, instance: Any, /) -> None:
        if type(instance) not in _MODELS:
            model_of(instance)  # raises
        self._rows.append(instance)


@dataclass
class ChangeSet:
    """What one step of a use case writes; ``core.executor`` commits it atomically."""

    rows: list[Any] = field(default_factory=list)
    always: list[Any] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    also: list[RowUpdate] = field(default_factory=list)

    def add(self, instance: Any, /) -> None:
        """A new row, written with the change (only if the guards match, when there are)."""
        if type(instance) not in _MODELS:
            model_of(instance)  # raises
        self.rows.append(instance)

    @property
    def regardless(self) -> Writes:
        """Where rows go that are written whether or not the guards match."""
        return _Regardless(self.always)

    def guard(self, instance: Any, *unchanged: str, **expected: Any) -> None:
        """Update ``instance``'s row only if it is still as read: each attribute named in
        ``unchanged`` still has its current value, each in ``expected`` the value given
        (which the object must have now). What the caller changes on ``instance`` from here
        on is what the update SETs."""
        model = model_of(instance)
        for attr, value in expected.items():
            if getattr(instance, attr) != value:
                raise ValueError(
                    f"guard on {type(instance).__name__}.{attr} = {value!r}, "
                    f"but the object has {getattr(instance, attr)!r}"
                )
        wanted = {**{a: getattr(instance, a) for a in unchanged}, **expected}
        if any(g.instance is instance for g in self.guards):
            raise ValueError("this object is guarded already")
        _, before = row_of(instance)
        self.guards.append(
            Guard(instance, {model.column_of[a]: v for a, v in wanted.items()}, _copied(before))
        )

    def ride_along(self, update: RowUpdate) -> int:
        """Apply ``update`` only if the guards match; its index in ``Committed.also``."""
        if update.table.name not in _TABLES:
            raise TypeError(f"table {update.table.name} is not declared writable")
        self.also.append(update)
        return len(self.also) - 1


@dataclass(frozen=True)
class Committed:
    """What the executor reports: whether the guards matched (True without guards), and for
    each ride-along update whether it happened."""

    matched: bool
    also: tuple[bool, ...] = ()
