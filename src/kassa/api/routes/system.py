"""Operational endpoints: /health and /metrics."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from sqlalchemy import text

from kassa.api.deps import State
from kassa.api.state import AppState, HealthCheck
from kassa.chain import health as chain_health
from kassa.chain.config import chains_of
from kassa.core import metrics
from kassa.core.db import transaction
from kassa.core.redact import redact
from kassa.core.schemas import Out
from kassa.jobs.store import queue_stats

router = APIRouter(tags=["operations"])
log = logging.getLogger("kassa.api")

WORKER_STALE_SECONDS = 60.0
LAG_WARN_SECONDS = 30.0


async def _database_and_queue(state: State) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        async with asyncio.timeout(5), transaction(state.sessions) as session:
            await session.execute(text("SELECT 1"))
            stats = await queue_stats(session)
    except Exception as exc:
        down = {"status": "down", "error": type(exc).__name__}
        return down, {"status": "unknown"}
    seen = stats["worker_seen_seconds_ago"]
    worker_ok = 0 <= seen <= WORKER_STALE_SECONDS and stats["oldest_age_seconds"] < LAG_WARN_SECONDS
    worker = {
        "status": "ok" if worker_ok else "degraded",
        "queued": int(stats["queued"]),
        "lag_seconds": round(stats["oldest_age_seconds"], 3),
        "dead_jobs": int(stats["dead"]),
        "last_heartbeat_seconds_ago": None if seen < 0 else round(seen, 1),
    }
    return {"status": "ok", "backend": state.engine.dialect.name}, worker


def chain_health_check(state: AppState) -> HealthCheck:
    """The ``chains`` check: each chain's nodes as the worker last saw them (recorded rows,
    no RPC from here, so /health stays fast)."""
    chains = chains_of(state.settings)

    async def check() -> dict[str, Any]:
        async with asyncio.timeout(2), transaction(state.sessions) as session:
            return await chain_health.chain_health(session, chains)

    return check


class HealthOut(Out):
    status: Literal["ok", "degraded", "down"] = Field(
        description="down (503) when the database is; degraded when any other check is not ok."
    )
    checks: dict[str, dict[str, Any]] = Field(
        description="database, worker and each provider: a status and what was measured."
    )


_DOWN = "The database is down (the body tells which check failed)."


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": _DOWN}},
    summary="Health of the database, the workers and each provider",
)
async def health(state: State) -> JSONResponse:
    database, worker = await _database_and_queue(state)
    checks: dict[str, Any] = {"database": database, "worker": worker}
    for name, check in state.health_checks.items():
        try:
            checks[name] = await check()
        except Exception as exc:
            checks[name] = {"status": "down", "error": type(exc).__name__}
    statuses = {c.get("status") for c in checks.values()}
    overall = "down" if database["status"] != "ok" else ("ok" if statuses <= {"ok"} else "degraded")
    # A check may quote what it reached (a URL, a driver's message): never its credentials.
    body = redact({"status": overall, "checks": checks})
    return JSONResponse(body, status_code=503 if overall == "down" else 200)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def prometheus(state: State) -> Response:
    try:
        async with transaction(state.sessions) as session:
            stats = await queue_stats(session)
        metrics.jobs_queued.set(stats["queued"])
        metrics.jobs_oldest_age.set(stats["oldest_age_seconds"])
        metrics.jobs_dead.set(stats["dead"])
        if state.settings.chains:
            async with transaction(state.sessions) as session:
                await chain_health.set_gauges(session)  # what the worker's checks saw
    except Exception as exc:  # metrics must answer even when the database does not
        log.warning("queue metrics unavailable: %s", type(exc).__name__)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
