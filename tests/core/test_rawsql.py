"""Hot statements on the asyncpg driver behave exactly like the same statement through
SQLAlchemy: JSON is encoded, datetimes are UTC, constants in the statement are bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import ClauseElement, bindparam, insert, literal, select

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
