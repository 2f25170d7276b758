"""Idempotency keys of the API: one row per (account, key), kept 24 hours.

A request claims its key with an INSERT on the primary key (account_id, key) in a short
transaction of its own and commits; a second request with the same key finds the row and either
replays the stored response, is told the first is still running, or is told it sent different
parameters. The final response is written by ``finish`` in the route's own transaction, so a
change and its stored response commit together or not at all. ``lock_id`` is a compare-and-set
token: a claim whose process died can be taken over after a lock timeout, and the process that
lost its claim can then no longer finish it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ClauseElement,
    Index,
    LargeBinary,
    String,
    Table,
    bindparam,
    delete,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core import clock, rawsql
from kassa.core.changes import RowUpdate, writable
from kassa.core.db import Base, is_postgres
from kassa.core.errors import IdempotencyError, IdempotencyInFlight
from kassa.core.ids import new_id
from kassa.core.settings import Settings
from kassa.jobs import JobContext, register_job
from kassa.jobs.scheduler import register_schedule

IN_FLIGHT = "in_flight"
DONE = "done"
_CLAIM_ATTEMPTS = 3


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    # The caller's account id (or, for platform admins without one, their actor).
    account_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16))
    lock_id: Mapped[str] = mapped_column(String(40))
    response_status: Mapped[int | None]
    response_headers: Mapped[dict[str, Any] | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    locked_at: Mapped[datetime]


writable(IdempotencyKey)  # its response rides along with change sets (core.executor)


@dataclass(frozen=True)
class Request:
    """What identifies a request under a key."""

    account_id: str
    key: str
    fingerprint: str
    method: str
    path: str


@dataclass(frozen=True)
class Claimed:
    """The key is ours: run the request, then ``finish`` (or ``release``) with ``lock_id``."""

    lock_id: str
    # Set when this claim took over one whose process died mid-request: the first attempt may
    # have created objects (a payment) before dying, and the route must resume them, not redo.
    resumes_since: datetime | None = None


@dataclass(frozen=True)
class Stored:
    """The key's first request finished: answer with its response."""

    status_code: int
    headers: dict[str, str]
    body: bytes


async def claim(
    session: AsyncSession,
    request: Request,
    *,
    ttl: timedelta,
    lock_timeout: timedelta,
) -> Claimed | Stored:
    """Claim ``request.key`` for this request, or say what happened to its first use.

    Raises IdempotencyError (different parameters) or IdempotencyInFlight (still running). The
    caller commits right away so other processes see the claim.
    """
    for attempt in range(_CLAIM_ATTEMPTS):
        if attempt and rawsql.driver_engine(session.bind) and session.in_transaction():
            # The last round read the row in the session: give its connection back before
            # the driver path draws one (a pool without overflow would wait on itself).
            await session.rollback()
        now = clock.now()
        lock_id = new_id("idem")
        values = {
            "account_id": request.account_id,
            "key": request.key,
            "fingerprint": request.fingerprint,
            "method": request.method,
            "path": request.path,
            "status": IN_FLIGHT,
            "lock_id": lock_id,
            "response_status": None,
            "response_headers": None,
            "response_body": None,
            "created_at": now,
            "expires_at": now + ttl,
            "locked_at": now,
        }
        inserted = await _insert_claim(session, values)
        if inserted is not None:
            return Claimed(lock_id)
        row = await _load(session, request)
        if row is None:  # released between our INSERT and SELECT: try again
            continue
        expired = row.expires_at <= now
        if not expired and row.fingerprint != request.fingerprint:
            raise _mismatch(row, request)
        if not expired and row.status == DONE:
            return _stored(row)
        stale = row.locked_at + lock_timeout <= now
        if not expired and not stale:
            waited = (now - row.locked_at).total_seconds()
            retry_after = max(1, min(int(lock_timeout.total_seconds() - waited) + 1, 5))
            raise IdempotencyInFlight(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                details={"retry_after": retry_after},
            )
        # Expired, or claimed by a process that died: take it over unless someone else did.
        taken = await session.scalar(
            update(IdempotencyKey)
            .where(*_this(request), IdempotencyKey.lock_id == row.lock_id)
            .values(values)
            .returning(IdempotencyKey.lock_id)
        )
        if taken is not None:
            return Claimed(lock_id, None if expired else now - ttl)
    raise IdempotencyInFlight(details={"retry_after": 1})


def _claim_insert() -> ClauseElement:
    table = _table()
    binds = {c.key: bindparam(c.key, type_=c.type) for c in table.c}
    return (
        postgresql.insert(table)
        .values(binds)
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(table.c.lock_id)
    )


async def _insert_claim(session: AsyncSession, values: dict[str, Any]) -> str | None:
    """INSERT the claim unless the key exists; the lock id if ours. On PostgreSQL it is one
    autocommit statement (every keyed POST does this), elsewhere part of the session."""
    engine = rawsql.driver_engine(session.bind)
    if engine is not None:
        raw = rawsql.compile_once("idempotency.claim", _claim_insert, engine.dialect)
        inserted: str | None = await rawsql.fetchval(engine, raw, values)
        return inserted
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    return await session.scalar(
        dialect_insert(IdempotencyKey)
        .values(values)
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(IdempotencyKey.lock_id)
    )


def _table() -> Table:
    table = IdempotencyKey.__table__
    assert isinstance(table, Table)
    return table


def finish_change(
    request: Request, *, lock_id: str, status_code: int, headers: dict[str, str], body: bytes
) -> RowUpdate:
    """The row change that stores a response: WHERE the claim is still ours and in flight.
    ``finish`` runs it; a use case may also make it ride along with its own change set
    (``ChangeSet.ride_along``), so the response is stored atomically with the change it
    describes."""
    return RowUpdate(
        _table(),
        where={
            "account_id": request.account_id,
            "key": request.key,
            "lock_id": lock_id,
            "status": IN_FLIGHT,
        },
        values={
            "status": DONE,
            "response_status": status_code,
            "response_headers": headers,
            "response_body": body,
        },
    )


async def finish(session: AsyncSession, change: RowUpdate) -> bool:
    """Store the response in the caller's transaction; False if the claim was taken over."""
    table = change.table
    stored = await session.scalar(
        update(table)
        .where(*[table.c[c] == v for c, v in change.where.items()])
        .values(change.values)
        .returning(table.c.lock_id)
    )
    return stored is not None


async def release(session: AsyncSession, request: Request, *, lock_id: str) -> None:
    """Forget a claim whose request is not to be remembered, so the key can be used again."""
    await session.execute(
        delete(IdempotencyKey)
        .where(*_this(request), IdempotencyKey.lock_id == lock_id)
        .execution_options(synchronize_session=False)
    )


async def purge_expired(session: AsyncSession, *, limit: int = 5000) -> int:
    """Delete up to ``limit`` expired keys; returns how many went."""
    expired = (
        select(IdempotencyKey.account_id, IdempotencyKey.key)
        .where(IdempotencyKey.expires_at <= clock.now())
        .limit(limit)
    )
    result = await session.execute(
        delete(IdempotencyKey)
        .where(tuple_(IdempotencyKey.account_id, IdempotencyKey.key).in_(expired))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def register(settings: Settings) -> None:
    """The hourly purge of expired keys (called by the composition root)."""
    batch = 5000

    async def purge(ctx: JobContext) -> None:
        # Batches in their own transactions, so a large backlog never holds one huge lock.
        while True:
            async with ctx.sessions() as session, session.begin():
                if await purge_expired(session, limit=batch) < batch:
                    return

    register_job("idempotency.purge", purge, max_attempts=3)
    register_schedule("idempotency.purge", "idempotency.purge", every=timedelta(hours=1))


def _this(request: Request) -> tuple[Any, ...]:
    return (
        IdempotencyKey.account_id == request.account_id,
        IdempotencyKey.key == request.key,
    )


async def _load(session: AsyncSession, request: Request) -> IdempotencyKey | None:
    query = select(IdempotencyKey).where(*_this(request)).execution_options(populate_existing=True)
    return await session.scalar(query)


def _stored(row: IdempotencyKey) -> Stored:
    assert row.response_status is not None and row.response_body is not None
    return Stored(row.response_status, dict(row.response_headers or {}), row.response_body)


def _mismatch(row: IdempotencyKey, request: Request) -> IdempotencyError:
    if (row.method, row.path) != (request.method, request.path):
        detail = f"it was first used for {row.method} {row.path}"
    else:
        detail = "it was first used with a different request body"
    return IdempotencyError(
        f"This Idempotency-Key was already used with different parameters: {detail}. "
        "Use a new key for a new request.",
        param="Idempotency-Key",
    )
