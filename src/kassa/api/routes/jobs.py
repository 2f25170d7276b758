"""Jobs for operators (admin role): list them, look at dead letters, retry them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kassa.api.deps import AdminAccess, Session
from kassa.api.pagination import Limit, ListResponse, StartingAfter
from kassa.jobs import admin
from kassa.jobs.models import Job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


class JobOut(BaseModel):
    id: str
    object: Literal["job"] = "job"
    name: str
    status: str
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


@router.get("", response_model=ListResponse[JobOut], summary="List jobs (newest first)")
async def list_jobs(
    _: AdminAccess,
    session: Session,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
    status: Literal["queued", "running", "succeeded", "dead"] | None = Query(None),
    name: str | None = None,
) -> ListResponse[JobOut]:
    rows = await admin.list_jobs(
        session, status=status, name=name, limit=limit + 1, starting_after=starting_after
    )
    return ListResponse(data=[JobOut.of(j) for j in rows[:limit]], has_more=len(rows) > limit)


@router.get("/{job_id}", response_model=JobOut, summary="Retrieve a job")
async def get_job(job_id: str, _: AdminAccess, session: Session) -> JobOut:
    return JobOut.of(await admin.get_job(session, job_id))


@router.post("/{job_id}/retry", response_model=JobOut, summary="Run a dead job again")
async def retry_job(job_id: str, _: AdminAccess, session: Session) -> JobOut:
    return JobOut.of(await admin.retry_dead(session, job_id))
