from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from tests.fakes.rise.server import RiseStandIn


@pytest.fixture
def wallet() -> LocalAccount:
    return Account.create()


@pytest.fixture
async def rise(wallet: LocalAccount) -> AsyncIterator[RiseStandIn]:
    company_id = Account.create().address  # the company's RiseID
    standin = await RiseStandIn(company_wallet=wallet.address, company_id=company_id).start()
    yield standin
    await standin.stop()
