"""enqueue(): a job row written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kassa.core import clock
from kassa.core.changes import Writes
from kassa.core.ids import new_id
from kassa.jobs.models import QUEUED, Job
from kassa.jobs.registry import JOBS

DEFAULT_MAX_ATTEMPTS = 10


def enqueue(
    session: Writes,
    name: str,
    args: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Add job ``name`` to the caller's transaction (a session or a change set); it runs once
    that commits."""
    now = clock.now()
    spec = JOBS.get(name)
    attempts = max_attempts or (spec.max_attempts if spec else None) or DEFAULT_MAX_ATTEMPTS
    job = Job(
        id=new_id("job"),
        name=name,
        args=args or {},
        status=QUEUED,
        attempts=0,
        max_attempts=attempts,
        run_at=run_at or (now + delay if delay else now),
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    return job
