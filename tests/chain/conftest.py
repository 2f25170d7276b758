"""A real EVM node (anvil) per test, with the test stablecoin deployed and a payer funded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kassa.chain.devnode import ANVIL_HINT, DevNode, find_anvil, start_devnode
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    found = find_anvil(ROOT)
    if found is None:
        if IN_CI:
            pytest.fail(ANVIL_HINT)
        pytest.skip(ANVIL_HINT)
    return found


@dataclass
class Chain:
    node: DevNode
    token: str
    payer: str
    merchant: str


@pytest.fixture
async def chain(anvil_binary: Path) -> AsyncIterator[Chain]:
    node = await start_devnode(anvil_binary)
    try:
        token = await node.deploy_token()
        payer, merchant = node.accounts[1], node.accounts[2]
        await node.receipt(await node.mint(token, payer, 1_000_000_000_000))
        yield Chain(node, token, payer, merchant)
    finally:
        await node.stop()
