"""Hot statements run straight on the asyncpg driver, PostgreSQL only.

A statement that runs on every API request (authenticating the key, claiming the
Idempotency-Key, writing a payment) costs far more in SQLAlchemy's per-execution machinery
(cache keys, execution contexts, result wrappers, a BEGIN and a COMMIT round trip) than in
PostgreSQL. ``compile_once`` turns a SQLAlchemy Core statement into its SQL text and the
ordered bind processors SQLAlchemy itself would apply (JSON encoding, UTC datetimes), once;
``fetchrow``/``fetchval`` then run it as ONE autocommit statement on a pooled connection.
A single statement is atomic on its own, so a statement of data-modifying CTEs is a whole
transaction in one round trip.

Used for the API-key lookup, the Idempotency-Key claim and the change sets ``core.executor``
commits; other statements keep using sessions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class RawStatement:
    sql: str
    binds: tuple[tuple[str, Processor], ...]  # in $1, $2, ... order
    constants: Mapping[str, Any]  # values fixed in the statement itself, e.g. literal(1)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        values = {**self.constants, **params} if self.constants else params
        return [
            values[name] if process is None else process(values[name])
            for name, process in self.binds
        ]


_COMPILED: dict[Any, RawStatement] = {}


def compile_once(key: Any, build: Callable[[], ClauseElement], dialect: Dialect) -> RawStatement:
    """The statement ``build()`` makes, compiled for ``dialect`` and kept under ``key``."""
    raw = _COMPILED.get(key)
    if raw is None:
        compiled = build().compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        processors = compiled._bind_processors  # what SQLAlchemy itself applies
        order = compiled.positiontup or []
        binds: list[tuple[str, Processor]] = []
        constants = {
            name: bind.value
            for name, bind in ((n, compiled.binds[n]) for n in order)
            if not bind.required
        }
        for name in order:
            process = processors.get(name)
            if process is not None and not callable(process):
                raise TypeError(f"tuple parameters are not supported here: {name}")
            binds.append((name, process))
        raw = RawStatement(compiled.string, tuple(binds), constants)
        _COMPILED[key] = raw
    return raw


def supported(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"


def driver_engine(bind: object) -> AsyncEngine | None:
    """The engine to run driver statements on, if ``bind`` (a session's or sessionmaker's
    bind) is one this module supports; None means: use the session."""
    return bind if isinstance(bind, AsyncEngine) and supported(bind) else None


# What says the connection itself is gone (server restart, failover, network): such a
# connection must leave the pool, or every request that draws it fails the same way.
_DISCONNECTS: tuple[type[BaseException], ...] = (
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # the protocol's state is broken: the connection is lost
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash recovery
    OSError,
    ConnectionError,
)


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled asyncpg connection outside any transaction (each statement autocommits).

    Driver errors come out as SQLAlchemy's (``OperationalError`` for a lost connection,
    ``IntegrityError``, ``DBAPIError``), like the session path's, so the API answers them the
    same way; a lost connection is invalidated, as SQLAlchemy does on its own path."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        try:
            yield raw.driver_connection
        except _DISCONNECTS as error:
            await conn.invalidate(error if isinstance(error, Exception) else None)
            raise sa_exc.OperationalError("driver statement", None, error) from error
        except asyncpg.IntegrityConstraintViolationError as error:
            raise sa_exc.IntegrityError("driver statement", None, error) from error
        except asyncpg.DataError as error:
            raise sa_exc.DataError("driver statement", None, error) from error
        except asyncpg.PostgresError as error:
            raise sa_exc.DBAPIError("driver statement", None, error) from error


async def fetchrow(engine: AsyncEngine, raw: RawStatement, params: Mapping[str, Any]) -> Any:
    async with driver_connection(engine) as conn:
        return await conn.fetchrow(raw.sql, *raw.args(params))


async def fetch(engine: AsyncEngine, raw: RawStatement, params: Mapping[str, Any]) -> list[Any]:
    async with driver_connection(engine) as conn:
        return list(await conn.fetch(raw.sql, *raw.args(params)))


async def fetchval(engine: AsyncEngine, raw: RawStatement, params: Mapping[str, Any]) -> Any:
    async with driver_connection(engine) as conn:
        return await conn.fetchval(raw.sql, *raw.args(params))
