"""Jobs for operators (admin role): list them, look at dead letters, retry them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from kassa.api.deps import AdminAccess, Session
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.jobs import admin
from kassa.jobs.models import Job
from kassa.jobs.schemas import JobOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("", response_model=ListResponse[JobOut], summary="List jobs (newest first)")
async def list_jobs(
    _: AdminAccess,
    session: Session,
    page: Page,
    status: Literal["queued", "running", "succeeded", "dead"] | None = Query(None),
    name: str | None = None,
) -> ListResponse[JobOut]:
    query = admin.jobs_query(status=status, name=name)
    rows, more = await fetch_page(session, query, Job.id, page)
    return ListResponse(data=[JobOut.of(j) for j in rows], has_more=more)


@router.get("/{job_id}", response_model=JobOut, summary="Retrieve a job")
async def retrieve_job(job_id: str, _: AdminAccess, session: Session) -> JobOut:
    return JobOut.of(await admin.get_job(session, job_id))


@router.post(
    "/{job_id}/retry",
    response_model=JobOut,
    responses=problems(409),
    summary="Run a dead job again (409 job_not_dead for any other)",
)
async def retry_job(job_id: str, _: AdminAccess, session: Session) -> JobOut:
    return JobOut.of(await admin.retry_dead(session, job_id))
