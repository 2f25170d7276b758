"""Fixtures for outbound webhooks: a receiver, an in-process worker with its own settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.core.db import transaction
from kassa.core.settings import Settings
from kassa.jobs import emit
from kassa.jobs.catalog import declare_event
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.notify import LogMailer, Mailer
from kassa.webhooks.outbound.delivery import Deliverer
from kassa.webhooks.outbound.jobs import install
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.openapi_conformance import api_transport
from tests.webhooks.receiver import Receiver

EVENT = "test.thing_happened"
declare_event(EVENT, "Emitted by the webhook tests only.", {"thing": "th_1"})

FAST = {
    "webhook_allow_private": True,
    "webhook_retry_schedule": "0,0,0,0",
    "webhook_timeout_seconds": 2.0,
}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@dataclass
class Outbound:
    """A worker with the webhook handlers bound to ``settings``; ``drain()`` runs what is due."""

    db: Backend
    settings: Settings
    worker: Worker
    deliverer: Deliverer
    mailer: Mailer

    async def drain(self) -> int:
        return await self.worker.run_due()

    async def emit(self, m: Merchant, data: dict[str, Any] | None = None, **kw: Any) -> str:
        async with transaction(self.db.sessions) as session:
            event = emit(
                session, kw.get("type", EVENT), data or {"thing": "th_1"}, account_id=m.account_id
            )
        return event.id


async def make_outbound(
    db: Backend, tmp: Path, mailer: Mailer | None = None, **overrides: Any
) -> Outbound:
    settings = db.settings(tmp, **{**FAST, **overrides})
    registry = JobRegistry()
    mail = mailer or LogMailer()
    deliverer = install(registry, settings, mailer=mail)
    deliverer.defer_seconds = (0.0, 0.0)  # so run_due() finds deferred attempts due at once
    worker = Worker(db.sessions, registry=registry, schedules={}, concurrency=32)
    return Outbound(db, settings, worker, deliverer, mail)


@pytest.fixture
async def outbound(db: Backend, tmp_path: Path) -> AsyncIterator[Outbound]:
    ob = await make_outbound(db, tmp_path)
    yield ob
    await ob.deliverer.close()


@pytest.fixture
async def api(db: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API with private targets allowed (the receivers listen on 127.0.0.1)."""
    from kassa.api.app import create_app

    app = create_app(db.settings(tmp_path, **FAST))
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c,
    ):
        yield c


@pytest.fixture
async def acme(db: Backend) -> Merchant:
    return await merchant(db.sessions, "Acme")


async def create_endpoint(
    api: httpx.AsyncClient, m: Merchant, url: str, **body: Any
) -> dict[str, Any]:
    response = await api.post("/v1/webhook_endpoints", headers=m.auth, json={"url": url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
