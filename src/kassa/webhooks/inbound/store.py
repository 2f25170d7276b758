"""Storing received events with group commit.

Each request hands its row to ``GroupCommitter.store`` and waits. One flusher collects the
rows of every request that arrived meanwhile and writes them in ONE transaction: a multi-row
``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` into ``inbound_events`` and, for the rows
it inserted, their ``payins.apply_provider_event`` jobs. Only then is each waiting request
answered: stored now, or a duplicate (its key was there already, or earlier in the same
batch). So a 2xx always follows the commit of its row and its job, and a burst costs one
commit (one WAL flush) instead of one per request. While one batch is being written the next
one gathers; at most ``max_in_flight`` (4) transactions are open, so a batch rarely waits
for a slot and concurrent commits share PostgreSQL's WAL flushes (measured: 4 did better than
2 and 8 here, bench/webhooks_in.py).

On PostgreSQL the batch is one statement of data-modifying CTEs on the asyncpg driver (one
round trip, atomic on its own: docs/decisions/0005); on SQLite one session transaction. A batch
that fails is written again row by row, so one row the database refuses fails only its own
request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kassa.core import clock, rawsql
from kassa.core.ids import new_id
from kassa.jobs import enqueue
from kassa.jobs.outbox import DEFAULT_MAX_ATTEMPTS
from kassa.jobs.registry import JOBS
from kassa.webhooks.inbound.models import RECEIVED, InboundEvent

log = logging.getLogger("kassa.webhooks.inbound")

APPLY_JOB = "payins.apply_provider_event"  # handed over by name: webhooks never import payins
# The events of payout providers are applied by payouts' jobs (by name: webhooks never import
# payouts): Rise's as received, the mock payout provider's as it simulates them.
PAYOUT_APPLY_JOBS = {"rise": "payouts.apply_rise_event", "payout_mock": "payouts.apply_mock_event"}
JOB_ARG = "inbound_event_id"


def apply_job_of(provider: str) -> str:
    """The job that processes a stored event of ``provider``."""
    return PAYOUT_APPLY_JOBS.get(provider, APPLY_JOB)


# Constants only (no input) in the text: the values travel as parameters.
_PG_STORE = f"""
WITH ins AS (
  INSERT INTO inbound_events (id, provider, credentials_id, account_id, livemode, event_id,
    event_type, payload, status, attempts, received_at)
  SELECT u.id, u.provider, u.credentials_id, u.account_id, u.livemode, u.event_id,
    u.event_type, u.payload::jsonb, '{RECEIVED}', 0, $9
  FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::bool[],
    $6::varchar[], $7::varchar[], $8::text[])
    AS u(id, provider, credentials_id, account_id, livemode, event_id, event_type, payload)
  ON CONFLICT (provider, credentials_id, event_id) DO NOTHING
  RETURNING id),
job AS (
  INSERT INTO jobs (id, name, args, status, attempts, max_attempts, run_at, created_at,
    updated_at)
  SELECT j.job_id, $11, jsonb_build_object('{JOB_ARG}', ins.id), 'queued', 0, $12, $9, $9, $9
  FROM unnest($10::varchar[], $1::varchar[]) AS j(job_id, row_id)
  JOIN ins ON ins.id = j.row_id)
SELECT id FROM ins
"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class NewEvent:
    provider: str
    credentials_id: str
    account_id: str | None
    livemode: bool
    event_id: str
    event_type: str
    payload: dict[str, Any]
    payload_json: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.provider, self.credentials_id, self.event_id)


@dataclass(frozen=True, slots=True)
class Stored:
    id: str  # the row's id (iev_...); for a duplicate, the id this delivery would have had
    duplicate: bool


@dataclass(slots=True)
class _Pending:
    event: NewEvent
    id: str
    future: asyncio.Future[Stored]
    followers: list[_Pending] = field(default_factory=list)


def _max_attempts(job: str) -> int:
    spec = JOBS.get(job)
    return (spec.max_attempts if spec else None) or DEFAULT_MAX_ATTEMPTS


class GroupCommitter:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_batch: int = 512,
        max_in_flight: int = 4,
        job: str = APPLY_JOB,
    ) -> None:
        self.engine = engine
        self.job = job  # the processing job of each stored row (Rise's: payouts')
        self.sessions = sessions
        self.max_batch = max_batch
        self.raw = rawsql.supported(engine)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._runner: asyncio.Task[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self.batches = 0  # flushes done (for tests and the bench: proof of grouping)

    async def store(self, event: NewEvent) -> Stored:
        """Write ``event`` (once per key) and its job; returns after the commit."""
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())
        pending = _Pending(event, new_id("iev"), asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        return await pending.future

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await self._slots.acquire()
            batch = [first]  # everything that arrived while waiting for a slot
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            leaders = _leaders(batch)
            try:
                inserted = await self._write(leaders)
            except Exception:
                if len(leaders) == 1:
                    raise
                log.warning("a group commit failed; writing its rows one by one", exc_info=True)
                await asyncio.gather(*(self._flush_one(p) for p in leaders))
                return
            self.batches += 1
            for p in leaders:
                _resolve(p, Stored(p.id, duplicate=p.id not in inserted))
        except Exception as error:
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
        finally:
            self._slots.release()

    async def _flush_one(self, pending: _Pending) -> None:
        try:
            inserted = await self._write([pending])
        except Exception as error:
            for p in (pending, *pending.followers):
                if not p.future.done():
                    p.future.set_exception(error)
            return
        _resolve(pending, Stored(pending.id, duplicate=pending.id not in inserted))

    async def _write(self, rows: Sequence[_Pending]) -> set[str]:
        """Insert ``rows`` and the jobs of those inserted, in one transaction: their ids."""
        if self.raw:
            return await self._write_driver(rows)
        return await self._write_session(rows)

    async def _write_driver(self, rows: Sequence[_Pending]) -> set[str]:
        now = _now()
        events = [p.event for p in rows]
        async with rawsql.driver_connection(self.engine) as conn:
            found = await conn.fetch(
                _PG_STORE,
                [p.id for p in rows],
                [e.provider for e in events],
                [e.credentials_id for e in events],
                [e.account_id for e in events],
                [e.livemode for e in events],
                [e.event_id for e in events],
                [e.event_type for e in events],
                [e.payload_json for e in events],
                now,
                [new_id("job") for _ in rows],
                self.job,
                _max_attempts(self.job),
            )
        return {r["id"] for r in found}

    async def _write_session(self, rows: Sequence[_Pending]) -> set[str]:
        now = _now()
        values = [
            {
                "id": p.id,
                "provider": p.event.provider,
                "credentials_id": p.event.credentials_id,
                "account_id": p.event.account_id,
                "livemode": p.event.livemode,
                "event_id": p.event.event_id,
                "event_type": p.event.event_type,
                "payload": p.event.payload,
                "status": RECEIVED,
                "attempts": 0,
                "received_at": now,
            }
            for p in rows
        ]
        statement = (
            sqlite_insert(InboundEvent)
            .values(values)
            .on_conflict_do_nothing(index_elements=["provider", "credentials_id", "event_id"])
            .returning(InboundEvent.id)
        )
        async with self.sessions() as session, session.begin():
            inserted = set((await session.scalars(statement)).all())
            for row_id in sorted(inserted):
                enqueue(session, self.job, {JOB_ARG: row_id})
        return inserted


def _leaders(batch: list[_Pending]) -> list[_Pending]:
    """The first request of each key; later ones with the same key follow its outcome."""
    by_key: dict[tuple[str, str, str], _Pending] = {}
    for p in batch:
        leader = by_key.get(p.event.key)
        if leader is None:
            by_key[p.event.key] = p
        else:
            leader.followers.append(p)
    return list(by_key.values())


def _resolve(leader: _Pending, outcome: Stored) -> None:
    if not leader.future.done():
        leader.future.set_result(outcome)
    for p in leader.followers:
        if not p.future.done():
            p.future.set_result(Stored(p.id, duplicate=True))


def _now() -> datetime:
    return clock.now()
