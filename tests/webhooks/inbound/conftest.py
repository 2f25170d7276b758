"""Fixtures for inbound webhooks: an app with default credentials of every provider, a
loopback server for PayPal's certificate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from sqlalchemy import func, select

from kassa.core.settings import Settings
from kassa.jobs.models import Job
from kassa.webhooks.inbound.models import InboundEvent
from kassa.webhooks.inbound.receiver import InboundReceiver
from kassa.webhooks.inbound.store import APPLY_JOB
from tests.conftest import Backend
from tests.openapi_conformance import api_transport
from tests.webhooks.inbound.signing import (
    BRAINTREE,
    PAYPAL_WEBHOOK_ID,
    STRIPE_OLD_SECRET,
    STRIPE_SECRET,
    PayPalSigner,
)

CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-test"


@dataclass
class CertServer:
    origin: str
    signer: PayPalSigner
    fetches: int = 0

    @property
    def url(self) -> str:
        return self.origin + CERT_PATH


@pytest.fixture
async def cert_server() -> AsyncIterator[CertServer]:
    """PayPal's certificate URL, served on loopback (PEM, as PayPal serves it)."""
    server = CertServer("", PayPalSigner())

    async def cert(_: web.Request) -> web.Response:
        server.fetches += 1
        return web.Response(body=server.signer.pem(), content_type="application/x-pem-file")

    app = web.Application()
    app.router.add_get(CERT_PATH, cert)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.origin = f"http://127.0.0.1:{port}"
    yield server
    await runner.cleanup()


def provider_settings(db: Backend, tmp: Path, cert_origin: str, **extra: Any) -> Settings:
    return db.settings(
        tmp,
        stripe_secret_key="sk_test_inbound",
        stripe_webhook_secret=f"{STRIPE_SECRET},{STRIPE_OLD_SECRET}",
        paypal_client_id="paypal-client",
        paypal_client_secret="paypal-secret",
        paypal_webhook_id=PAYPAL_WEBHOOK_ID,
        paypal_cert_hosts=cert_origin,
        braintree_merchant_id=BRAINTREE["merchant_id"],
        braintree_public_key=BRAINTREE["public_key"],
        braintree_private_key=BRAINTREE["private_key"],
        **extra,
    )


@dataclass
class Inbound:
    db: Backend
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def receiver(self) -> InboundReceiver:
        receiver = self.app.state.inbound_webhooks
        assert isinstance(receiver, InboundReceiver)
        return receiver

    async def rows(self) -> list[InboundEvent]:
        async with self.db.sessions() as session:
            found = await session.scalars(select(InboundEvent).order_by(InboundEvent.event_id))
            return list(found.all())

    async def jobs(self) -> list[Job]:
        async with self.db.sessions() as session:
            found = await session.scalars(select(Job).where(Job.name == APPLY_JOB))
            return list(found.all())

    async def count(self) -> int:
        async with self.db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboundEvent)) or 0)


async def start_inbound(settings: Settings, db: Backend) -> AsyncIterator[Inbound]:
    from kassa.api.app import create_app

    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as http,
    ):
        yield Inbound(db, app, http)


@pytest.fixture
async def inbound(db: Backend, tmp_path: Path, cert_server: CertServer) -> AsyncIterator[Inbound]:
    async for found in start_inbound(provider_settings(db, tmp_path, cert_server.origin), db):
        yield found
