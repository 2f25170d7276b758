"""Jobs and event types as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from kassa.core.schemas import Out
from kassa.jobs.catalog import EventType
from kassa.jobs.models import Job


class JobOut(Out):
    id: str
    object: Literal["job"] = "job"
    name: str
    status: str = Field(description="queued, running, succeeded or dead.")
    args: dict[str, Any]
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            name=job.name,
            status=job.status,
            args=job.args,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            run_at=job.run_at,
            last_error=job.last_error,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


class EventTypeOut(Out):
    name: str
    object: Literal["event_type"] = "event_type"
    description: str
    example: dict[str, Any] = Field(description="The data an event of this type carries.")

    @classmethod
    def of(cls, event_type: EventType) -> EventTypeOut:
        return cls(
            name=event_type.name, description=event_type.description, example=event_type.example
        )
