"""Hot statements on the asyncpg driver behave exactly like the same statement through
SQLAlchemy: JSON is encoded, datetimes are UTC, constants in the statement are bound."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import ClauseElement, bindparam, func, insert, literal, select, text

from kassa.core import rawsql
from kassa.jobs.models import Event
from tests.conftest import Backend


def _insert_event() -> ClauseElement:
    table = Event.__table__
    binds = {c.key: bindparam(c.key, type_=c.type) for c in table.c}
    return insert(table).values(binds).returning(table.c.id, literal(7).label("seven"))


async def test_raw_statement_round_trips_json_and_utc(db: Backend) -> None:
    if db.name != "postgresql":
        assert not rawsql.supported(db.engine)  # SQLite keeps the session path
        return
    assert rawsql.supported(db.engine)
    raw = rawsql.compile_once(("test", "insert_event"), _insert_event, db.engine.dialect)
    assert raw is rawsql.compile_once(("test", "insert_event"), _insert_event, db.engine.dialect)
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    row = await rawsql.fetchrow(
        db.engine,
        raw,
        {
            "id": "evt_raw",
            "account_id": None,
            "livemode": False,
            "type": "test.raw",
            "data": {"amount": 1000, "nested": ["a", None]},
            "request_id": None,
            "created_at": created,
        },
    )
    assert (row["id"], row["seven"]) == ("evt_raw", 7)
    async with db.sessions() as session:
        event = await session.scalar(select(Event).where(Event.id == "evt_raw"))
    assert event is not None
    assert event.data == {"amount": 1000, "nested": ["a", None]}
    assert event.created_at == created.astimezone(UTC)


async def test_a_lost_connection_leaves_the_pool_and_reads_as_a_database_error(
    db: Backend,
) -> None:
    """A server restart kills pooled connections: the statement that meets one fails as
    SQLAlchemy's OperationalError (the API answers 503), and the next one works."""
    from sqlalchemy.exc import OperationalError

    from kassa.core.db import create_engine

    if db.name != "postgresql":
        return
    engine = create_engine(db.url, pool_size=1, max_overflow=0)
    try:
        probe = rawsql.compile_once(("test", "pid"), _backend_pid, engine.dialect)
        pid = await rawsql.fetchval(engine, probe, {})
        async with db.engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(100):  # until the server has really dropped it
                if not (await admin.execute(alive, {"pid": pid})).scalar():
                    break
                await asyncio.sleep(0.02)
        with pytest.raises(OperationalError):
            await rawsql.fetchval(engine, probe, {})
        assert await rawsql.fetchval(engine, probe, {}) != pid  # a fresh connection
    finally:
        await engine.dispose()


def _backend_pid() -> ClauseElement:
    return select(func.pg_backend_pid())
