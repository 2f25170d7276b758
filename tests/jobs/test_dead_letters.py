"""Dead letters: listed and retried through the API (admin only) and the CLI."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kassa.accounts.users import create_user
from kassa.core.db import transaction
from kassa.core.settings import reset_settings_cache
from kassa.jobs.models import DEAD, QUEUED, SUCCEEDED
from kassa.jobs.registry import JobContext, JobRegistry
from tests.conftest import Backend
from tests.factories import merchant
from tests.jobs.conftest import add_job, load, make_worker

PASSWORD = "correct horse battery staple"


async def _dead_jobs(db: Backend, registry: JobRegistry, count: int = 1) -> list[str]:
    async def refuses(ctx: JobContext) -> None:
        raise RuntimeError(f"downstream is down ({ctx.args['n']})")

    registry.register("test.refuses", refuses)
    ids = [await add_job(db, "test.refuses", {"n": n}, max_attempts=1) for n in range(count)]
    await make_worker(db, registry).run_due()
    for job_id in ids:
        assert (await load(db, job_id)).status == DEAD
    return ids


async def _admin_headers(client: httpx.AsyncClient, db: Backend) -> dict[str, str]:
    async with transaction(db.sessions) as session:
        await create_user(
            session, email="ops@example.com", password=PASSWORD, role="admin", account_id=None
        )
    response = await client.post(
        "/v1/auth/token", json={"email": "ops@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_admins_list_and_retry_dead_jobs_over_the_api(
    client: httpx.AsyncClient, db: Backend, registry: JobRegistry
) -> None:
    [dead_id] = await _dead_jobs(db, registry)
    ok_id = await add_job(db, "test.fine")
    registry.register("test.fine", lambda ctx: asyncio.sleep(0))
    await make_worker(db, registry).run_due()
    admin = await _admin_headers(client, db)

    listed = await client.get("/v1/jobs", params={"status": "dead"}, headers=admin)
    assert listed.status_code == 200
    body = listed.json()
    assert body["object"] == "list" and body["has_more"] is False
    assert [(j["id"], j["status"], j["attempts"]) for j in body["data"]] == [(dead_id, DEAD, 1)]
    assert body["data"][0]["last_error"] == "RuntimeError: downstream is down (0)"
    everything = (await client.get("/v1/jobs", headers=admin)).json()["data"]
    assert {j["id"] for j in everything} == {dead_id, ok_id}

    retried = await client.post(f"/v1/jobs/{dead_id}/retry", headers=admin)
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"]) == (QUEUED, 0)
    assert (await client.get("/v1/jobs?status=dead", headers=admin)).json()["data"] == []

    again = await client.post(f"/v1/jobs/{dead_id}/retry", headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "job_not_dead"
    missing = await client.post("/v1/jobs/job_nope/retry", headers=admin)
    assert missing.status_code == 404
    bad = await client.get("/v1/jobs", params={"status": "zombie"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"

    registry.register("test.refuses", lambda ctx: asyncio.sleep(0))  # downstream is back
    await make_worker(db, registry).run_due()
    assert (await load(db, dead_id)).status == SUCCEEDED


async def test_merchants_cannot_see_or_retry_jobs(
    client: httpx.AsyncClient, db: Backend, registry: JobRegistry
) -> None:
    [dead_id] = await _dead_jobs(db, registry)
    acme = await merchant(db.sessions)
    listed = await client.get("/v1/jobs?status=dead", headers=acme.auth)
    assert listed.status_code == 403
    assert listed.headers["content-type"] == "application/problem+json"
    assert (await client.post(f"/v1/jobs/{dead_id}/retry", headers=acme.auth)).status_code == 403
    assert (await client.get("/v1/jobs")).status_code == 401
    assert (await load(db, dead_id)).status == DEAD


@pytest.fixture
def cli(db: Backend, tmp_path: Path) -> Iterator[CliRunner]:
    env = {
        "KASSA_DATABASE_URL": db.url,
        "KASSA_VAR_DIR": str(tmp_path),
        "KASSA_SECRET_KEY": "test-secret-" + "x" * 40,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings_cache()
    yield CliRunner()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_settings_cache()


async def _kassa(cli: CliRunner, *args: str) -> tuple[int, str]:
    from kassa.cli import app

    # The CLI runs its own event loop, so it runs in a thread here.
    result = await asyncio.to_thread(cli.invoke, app, list(args))
    return result.exit_code, result.output


async def test_the_cli_lists_and_retries_dead_jobs(
    cli: CliRunner, db: Backend, registry: JobRegistry
) -> None:
    assert await _kassa(cli, "jobs", "dead") == (0, "No dead jobs.\n")
    first, second, third = await _dead_jobs(db, registry, count=3)

    code, output = await _kassa(cli, "jobs", "dead")
    assert code == 0
    assert {first, second, third} <= set(output.split('"')) and "downstream is down" in output

    assert await _kassa(cli, "jobs", "retry", first) == (0, f"queued {first} again\n")
    assert (await load(db, first)).status == QUEUED
    code, output = await _kassa(cli, "jobs", "retry", first)
    assert code == 1 and "job_not_dead" in output

    assert await _kassa(cli, "jobs", "retry", "--all") == (0, "queued 2 dead job(s) again\n")
    assert {(await load(db, j)).status for j in (second, third)} == {QUEUED}
    assert await _kassa(cli, "jobs", "dead") == (0, "No dead jobs.\n")

    code, output = await _kassa(cli, "jobs", "retry")
    assert code == 2 and "give a job id or --all" in output
