"""`kassa jobs ...`: dead-letter jobs, listed and retried."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli.bootstrap import EXIT_USAGE, JsonOption, fail, in_transaction, new_app, print_list

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

app = new_app("Inspect background jobs and retry dead ones.")


@app.command("dead")
def jobs_dead(
    limit: Annotated[int, typer.Option(help="How many.")] = 50, as_json: JsonOption = False
) -> None:
    """List jobs that exhausted their retries."""
    from kassa.jobs.admin import list_jobs

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "id": j.id,
                "name": j.name,
                "attempts": j.attempts,
                "error": j.last_error,
                "finished_at": j.finished_at,
                "args": j.args,
            }
            for j in await list_jobs(session, status="dead", limit=limit)
        ]

    print_list(in_transaction(go), as_json=as_json, empty="No dead jobs.")


@app.command("retry")
def jobs_retry(
    job_id: Annotated[str | None, typer.Argument(help="A dead job's id (job_...).")] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Retry every dead job.")] = False,
    name: Annotated[str | None, typer.Option(help="With --all: only jobs of this name.")] = None,
) -> None:
    """Queue dead jobs again with fresh attempts."""
    from kassa.jobs.admin import retry_all_dead, retry_dead

    if bool(job_id) == all_dead:
        fail("give a job id or --all.", EXIT_USAGE)

    async def go(session: AsyncSession) -> str:
        if job_id:
            return f"queued {(await retry_dead(session, job_id)).id} again"
        return f"queued {await retry_all_dead(session, name=name)} dead job(s) again"

    typer.echo(in_transaction(go))
