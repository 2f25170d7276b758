"""Helpers for driving a Worker in-process against the test database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from kassa.core import clock
from kassa.core.clock import FrozenClock
from kassa.core.db import transaction
from kassa.jobs import events
from kassa.jobs.models import Job
from kassa.jobs.outbox import enqueue
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from tests.conftest import Backend

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry() -> JobRegistry:
    """A registry of this test's own jobs (the process-wide one stays untouched)."""
    return JobRegistry()


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    fixed = FrozenClock(START)
    previous = clock.install(fixed)
    yield fixed
    clock.install(previous)


@pytest.fixture
def own_subscriptions() -> Iterator[None]:
    """The test sees only its own subscriptions; everyone else's are put back afterwards."""
    previous = events.install(events.Subscriptions())
    yield
    events.install(previous)


def make_worker(db: Backend, registry: JobRegistry, **options: Any) -> Worker:
    options.setdefault("schedules", {})
    return Worker(db.sessions, registry=registry, **options)


async def add_job(db: Backend, name: str, args: dict[str, Any] | None = None, **kw: Any) -> str:
    async with transaction(db.sessions) as session:
        return enqueue(session, name, args, **kw).id


async def load(db: Backend, job_id: str) -> Job:
    async with db.sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def count_jobs(db: Backend, name: str) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).where(Job.name == name)) or 0)
