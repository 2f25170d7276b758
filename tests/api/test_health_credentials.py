"""/health names what it checked, never the credentials it used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.conftest import Backend
from tests.openapi_conformance import api_transport

SECRET = "hunter2secret"


async def test_health_shows_no_credentials(db: Backend, tmp_path: Path) -> None:
    from kassa.api.app import create_app

    url = db.url
    if db.name == "postgresql":  # trust authentication: the password is accepted and unused
        url = make_url(url).set(password=SECRET).render_as_string(hide_password=False)
    app = create_app(db.settings(tmp_path, database_url=url))

    async def cache() -> dict[str, Any]:
        # A component check quoting what it could not reach, as a driver's message does.
        return {"status": "down", "error": f"cannot reach redis://:{SECRET}@127.0.0.1:1/0"}

    app.state.kassa.health_checks["cache"] = cache
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client,
    ):
        response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["error"] == "cannot reach redis://:***@127.0.0.1:1/0"
    assert SECRET not in response.text
