"""Job handlers by name, and what a handler is given when it runs."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
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
    # Tells this worker to claim now rather than at its next poll: for a handler that has
    # committed jobs of its own (on its own sessions) and is not done yet.
    wake: Callable[[], None] = lambda: None


Handler = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True)
class BatchJob:
    """One job of a batch: what ``JobContext`` carries, without the session."""

    id: str
    args: dict[str, Any]
    attempt: int
    max_attempts: int


@dataclass
class BatchContext:
    """What a batch handler gets: several claimed jobs of one name, in their first attempt, and
    one session whose transaction finishes them all (docs/decisions/0004-batch-jobs.md). The
    handler must do each job's whole work; if it raises, each job is run alone by the single
    handler instead, so a batch is only ever an optimisation.

    A handler may leave some jobs to finish on their own (say, waiting on a slow receiver must
    not hold the whole batch): it returns {job id: handler}, and each such job then runs that
    handler as a job of its own (own transaction, slot, lease and retries), not finished with
    the batch."""

    name: str
    jobs: list[BatchJob]
    session: AsyncSession
    sessions: async_sessionmaker[AsyncSession]


BatchHandler = Callable[[BatchContext], Awaitable[Mapping[str, Handler] | None]]


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
    batch: BatchHandler | None = None
    batch_size: int = 1


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
        batch: BatchHandler | None = None,
        batch_size: int = 16,
    ) -> None:
        """``batch``, if given, runs up to ``batch_size`` claimed jobs of this name at once."""
        if "." not in name:
            raise ValueError(f"job names are '<context>.<verb>', got {name!r}")
        self.specs[name] = JobSpec(
            name,
            handler,
            max_attempts,
            timeout_seconds,
            backoff,
            batch,
            batch_size if batch is not None else 1,
        )

    def get(self, name: str) -> JobSpec | None:
        return self.specs.get(name)


JOBS = JobRegistry()


# Register a handler process-wide (the composition root calls this at start-up); the same
# parameters as JobRegistry.register, because it is that method.
register_job = JOBS.register
