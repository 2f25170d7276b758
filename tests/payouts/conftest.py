"""Payout tests: an app whose payout provider is the Rise client pointed at the Rise stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from kassa.core.settings import Settings
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.fakes.rise.server import RiseStandIn
from tests.openapi_conformance import api_transport


@pytest.fixture
def wallet() -> LocalAccount:
    return Account.create()


@pytest.fixture
async def rise(wallet: LocalAccount) -> AsyncIterator[RiseStandIn]:
    standin = await RiseStandIn(
        company_wallet=wallet.address, company_id=Account.create().address
    ).start()
    yield standin
    await standin.stop()


@pytest.fixture
def settings(db: Backend, tmp_path: Path, rise: RiseStandIn, wallet: LocalAccount) -> Settings:
    return db.settings(
        tmp_path,
        rise_api_base_url=rise.url,
        rise_company_id=rise.company_id,
        rise_wallet_address=wallet.address,
        rise_wallet_private_key="0x" + bytes(wallet.key).hex(),
        provider_timeout_seconds=5.0,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from kassa.api.app import create_app

    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as c,
    ):
        yield c


@dataclass
class World:
    client: httpx.AsyncClient
    acme: Merchant

    async def post(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = await self.client.post(path, json=body, headers=self.acme.auth)
        assert response.status_code == status, response.text
        data: dict[str, Any] = response.json()
        return data

    async def get(self, path: str) -> dict[str, Any]:
        response = await self.client.get(path, headers=self.acme.auth)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def affiliate(self, code: str = "ada", **extra: Any) -> dict[str, Any]:
        body = {"code": code, "name": code.title(), "email": f"{code}@example.test", **extra}
        return await self.post("/v1/affiliates", body, 201)

    async def payable_payee(self, rise: RiseStandIn, affiliate: dict[str, Any]) -> dict[str, Any]:
        """A payee whose Rise account has passed KYC, as kassa learns it from Rise."""
        account = rise.add_payee(affiliate["email"], "approved")
        payee = await self.post(
            f"/v1/affiliates/{affiliate['id']}/payees",
            {"provider_payee_id": account.riseid},
            201,
        )
        return await self.post(f"/v1/affiliates/{affiliate['id']}/payees/{payee['id']}/sync", {})


@pytest.fixture
async def world(client: httpx.AsyncClient, db: Backend) -> World:
    return World(client, await merchant(db.sessions))
