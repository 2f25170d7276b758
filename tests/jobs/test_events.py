"""emit(): the event and its fan-out jobs live and die with the caller's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kassa.core.db import transaction
from kassa.jobs import emit, subscribe
from kassa.jobs.catalog import declare_event
from kassa.jobs.models import QUEUED, Event, Job
from kassa.jobs.registry import JobContext, JobRegistry
from tests.conftest import Backend
from tests.jobs.conftest import make_worker

declare_event("testthing.happened", "A test event.", {"id": "tt_1"})
declare_event("testthing.ignored", "A test event nobody listens to.")

pytestmark = pytest.mark.usefixtures("own_subscriptions")


async def _rows(db: Backend) -> tuple[list[Event], list[Job]]:
    async with db.sessions() as session:
        return (
            list((await session.scalars(select(Event))).all()),
            list((await session.scalars(select(Job).order_by(Job.name))).all()),
        )


async def test_emit_writes_the_event_and_one_job_per_matching_subscriber(db: Backend) -> None:
    subscribe("testthing.*", "testsub.webhooks")
    subscribe("testthing.happened", "testsub.recovery")
    subscribe("otherthing.*", "testsub.unrelated")
    subscribe("testthing.*", "testsub.webhooks")  # subscribing twice changes nothing

    async with transaction(db.sessions) as session:
        event = emit(session, "testthing.happened", {"id": "tt_1"}, account_id="acct_1")

    events, jobs = await _rows(db)
    assert [(e.id, e.type, e.data, e.account_id) for e in events] == [
        (event.id, "testthing.happened", {"id": "tt_1"}, "acct_1")
    ]
    assert [(j.name, j.args, j.status) for j in jobs] == [
        ("testsub.recovery", {"event_id": event.id}, QUEUED),
        ("testsub.webhooks", {"event_id": event.id}, QUEUED),
    ]


async def test_nothing_is_written_when_the_callers_transaction_rolls_back(db: Backend) -> None:
    subscribe("testthing.*", "testsub.webhooks")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with transaction(db.sessions) as session:
            emit(session, "testthing.happened", {"id": "tt_1"}, account_id="acct_1")
            await session.flush()  # even once the rows reached the database
            raise Boom

    assert await _rows(db) == ([], [])


async def test_an_undeclared_event_type_is_refused(db: Backend) -> None:
    subscribe("*", "testsub.everything")
    async with db.sessions() as session:
        with pytest.raises(ValueError, match="not declared"):
            emit(session, "testthing.made_up", {}, account_id=None)
        assert not session.new
    assert await _rows(db) == ([], [])


async def test_an_event_without_subscribers_is_still_recorded(db: Backend) -> None:
    async with transaction(db.sessions) as session:
        emit(session, "testthing.ignored", {"n": 1}, account_id=None, livemode=True)
    events, jobs = await _rows(db)
    assert [(e.type, e.livemode) for e in events] == [("testthing.ignored", True)]
    assert jobs == []


async def test_subscribers_receive_the_event_id(db: Backend, registry: JobRegistry) -> None:
    subscribe("testthing.happened", "testsub.reader")
    seen: list[str] = []

    async def reader(ctx: JobContext) -> None:
        event = await ctx.session.get(Event, ctx.args["event_id"])
        assert event is not None
        seen.append(event.data["id"])

    registry.register("testsub.reader", reader)
    async with transaction(db.sessions) as session:
        emit(session, "testthing.happened", {"id": "tt_9"}, account_id="acct_1")
    assert await make_worker(db, registry).run_due() == 1
    assert seen == ["tt_9"]
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
