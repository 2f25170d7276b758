"""The hostile-merchant world, built afresh for each test on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.accounts.conftest import cheap_passwords  # noqa: F401  (many sign-ins)
from tests.conftest import Backend
from tests.openapi_conformance import api_transport
from tests.security.world import CHAINS, World


@pytest.fixture
async def world(db: Backend, tmp_path: Path) -> AsyncIterator[World]:
    from kassa.api.app import create_app

    # Private targets allowed so endpoints can point at 127.0.0.1 (nothing is ever sent).
    app = create_app(db.settings(tmp_path, webhook_allow_private=True, chains=CHAINS))
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client,
    ):
        yield await World(db, app, client).build()
