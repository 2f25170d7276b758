"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend
from tests.openapi_conformance import api_transport


@pytest.fixture
async def api(db: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API with private webhook targets allowed (the endpoints made here are never sent
    to, or only to local receivers)."""
    from kassa.api.app import create_app

    app = create_app(db.settings(tmp_path, webhook_allow_private=True))
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c,
    ):
        yield c
