"""Job handlers by name, and what a handler is given when it runs."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class Retry(Exception):
    """Raised by a handler to be run again after ``after`` (counts as an attempt)."""

    def __init__(self, after: timedelta, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.after = after


@dataclass
class JobContext:
    """What a handler gets. ``session`` is the job's transaction: the job is marked done in it,
    so a handler that only writes to the database takes effect exactly once. A handler that
    calls the outside world should commit its reads first and never hold the transaction open
    across slow I/O."""

    id: str
    name: str
    args: dict[str, Any]
    attempt: int
    max_attempts: int
    session: AsyncSession
    sessions: async_sessionmaker[AsyncSession]


Handler = Callable[[JobContext], Awaitable[None]]


def default_backoff(attempt: int) -> timedelta:
    """Exponential backoff with ±20 % jitter: ~2 s, 4 s, 8 s ... capped at one hour."""
    base = min(3600.0, 2.0 * 2 ** max(0, attempt - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


@dataclass
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int | None = None
    timeout_seconds: float = 300.0
    backoff: Callable[[int], timedelta] = default_backoff


@dataclass
class JobRegistry:
    specs: dict[str, JobSpec] = field(default_factory=dict)

    def register(
        self,
        name: str,
        handler: Handler,
        *,
        max_attempts: int | None = None,
        timeout_seconds: float = 300.0,
        backoff: Callable[[int], timedelta] = default_backoff,
    ) -> None:
        if "." not in name:
            raise ValueError(f"job names are '<context>.<verb>', got {name!r}")
        self.specs[name] = JobSpec(name, handler, max_attempts, timeout_seconds, backoff)

    def get(self, name: str) -> JobSpec | None:
        return self.specs.get(name)


JOBS = JobRegistry()


def register_job(
    name: str,
    handler: Handler,
    *,
    max_attempts: int | None = None,
    timeout_seconds: float = 300.0,
    backoff: Callable[[int], timedelta] = default_backoff,
) -> None:
    """Register ``handler`` process-wide (the composition root calls this at start-up)."""
    JOBS.register(
        name, handler, max_attempts=max_attempts, timeout_seconds=timeout_seconds, backoff=backoff
    )
