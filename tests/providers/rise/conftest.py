from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from kassa.providers.rise.config import RiseConfig
from kassa.providers.rise.provider import RisePayoutProvider
from tests.fakes.rise.server import RiseStandIn


@pytest.fixture
def wallet() -> LocalAccount:
    return Account.create()


@dataclass(frozen=True)
class Paths:
    """Where each step goes in the API version under test."""

    challenge: tuple[str, str]
    verify: tuple[str, str]
    create: tuple[str, str]
    execute: tuple[str, str]
    riseid: str


PATHS = {
    "v2": Paths(
        ("GET", "/v2/auth/siwe"),
        ("POST", "/v2/auth/verify"),
        ("POST", "/v2/payments"),
        ("PUT", "/v2/payments"),
        "/v2/riseid",
    ),
    "v1": Paths(
        ("GET", "/v1/auth/api/siwe"),
        ("POST", "/v1/auth/api/siwe"),
        ("PUT", "/v1/payments/batch-pay"),
        ("POST", "/v1/payments/batch-pay"),
        "/v1/riseid",
    ),
}


@pytest.fixture(params=["v2", "v1"])
def api_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def paths(api_version: str) -> Paths:
    return PATHS[api_version]


@pytest.fixture
async def rise(wallet: LocalAccount) -> AsyncIterator[RiseStandIn]:
    standin = await RiseStandIn(
        company_wallet=wallet.address, company_id=Account.create().address
    ).start()
    yield standin
    await standin.stop()


def config_for(
    rise: RiseStandIn, wallet: LocalAccount, api_version: str = "v2", **kw: object
) -> RiseConfig:
    return RiseConfig(
        api_version=api_version,  # type: ignore[arg-type]
        company_id=rise.company_id,
        wallet_address=wallet.address,
        private_key=SecretStr("0x" + bytes(wallet.key).hex()),
        environment="sandbox",
        base_url=rise.url + "/v1",  # seed 000 writes the version into the URL
        timeout_seconds=kw.pop("timeout_seconds", 2.0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def provider(
    rise: RiseStandIn, wallet: LocalAccount, api_version: str
) -> AsyncIterator[RisePayoutProvider]:
    client = RisePayoutProvider(config_for(rise, wallet, api_version))
    yield client
    await client.aclose()
