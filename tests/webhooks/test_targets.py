"""SSRF: private, loopback and link-local targets are refused at creation and at delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kassa.api.app import create_app
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.openapi_conformance import api_transport
from tests.webhooks.conftest import create_endpoint, make_outbound
from tests.webhooks.helpers import attempts, deliveries
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def strict_api(db: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API as in production: KASSA_WEBHOOK_ALLOW_PRIVATE unset."""
    app = create_app(db.settings(tmp_path))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=api_transport(app, raise_app_exceptions=True), base_url="http://t"
        ) as c,
    ):
        yield c


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://localhost/hook", "local name"),
        ("https://127.0.0.1/hook", "private, loopback or link-local"),
        ("https://[::1]:8443/hook", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://10.0.0.7/hook", "private, loopback or link-local"),
        ("https://192.168.1.1/hook", "private, loopback or link-local"),
        ("https://[::ffff:127.0.0.1]/hook", "private, loopback or link-local"),
        ("https://127.1/hook", "non-public address"),  # resolves to 127.0.0.1
        ("https://printer.local/hook", "local name"),
        ("http://example.com/hook", "must use https"),
        ("ftp://example.com/hook", "absolute https"),
        ("not a url", "absolute https"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://example.com:99999/hook", "malformed"),
    ],
)
async def test_creation_refuses_targets_kassa_must_not_call(
    strict_api: httpx.AsyncClient, db: Backend, url: str, why: str
) -> None:
    acme = await merchant(db.sessions)
    response = await strict_api.post("/v1/webhook_endpoints", headers=acme.auth, json={"url": url})
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "invalid_webhook_url" and problem["param"] == "url"
    assert why in problem["detail"]
    if why not in ("absolute https", "credentials", "malformed"):
        # every refusal a developer can lift says how (the http one did, the others did not)
        assert "KASSA_WEBHOOK_ALLOW_PRIVATE=true" in problem["detail"]
    listed = await strict_api.get("/v1/webhook_endpoints", headers=acme.auth)
    assert listed.json()["data"] == []


async def test_updating_to_a_private_url_is_refused(
    strict_api: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    created = await strict_api.post(
        "/v1/webhook_endpoints", headers=acme.auth, json={"url": "https://93.184.215.14/hook"}
    )
    assert created.status_code == 201, created.text
    response = await strict_api.post(
        f"/v1/webhook_endpoints/{created.json()['id']}",
        headers=acme.auth,
        json={"url": "https://localhost/x"},
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_webhook_url"
    shown = await strict_api.get(f"/v1/webhook_endpoints/{created.json()['id']}", headers=acme.auth)
    assert shown.json()["url"] == "https://93.184.215.14/hook"


async def test_live_endpoints_need_https_even_when_private_targets_are_allowed(
    api: httpx.AsyncClient, db: Backend
) -> None:
    live = await merchant(db.sessions, livemode=True)
    response = await api.post(
        "/v1/webhook_endpoints", headers=live.auth, json={"url": "http://127.0.0.1:9/x"}
    )
    assert response.status_code == 400 and "https" in response.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_delivery_refuses_private_addresses_after_resolution(
    api: httpx.AsyncClient,
    db: Backend,
    tmp_path: Path,
    receiver: Receiver,
    acme: Merchant,
    host: str,
) -> None:
    # Saved while private targets were allowed; the worker runs without the allowance, as a
    # DNS record changed to 127.0.0.1 after creation would look.
    created = await create_endpoint(api, acme, receiver.url(host=host))
    outbound = await make_outbound(db, tmp_path, webhook_allow_private=False)
    await outbound.emit(acme)
    try:
        await outbound.drain()
    finally:
        await outbound.deliverer.close()
    assert receiver.received == []  # no request was made
    [delivery] = await deliveries(db, created["id"])
    assert delivery.status == "failed"
    log = await attempts(db, delivery.id)
    assert log and all((a.error or "").startswith("refused: ") for a in log)
    assert all("127.0.0.1" in (a.error or "") and "public" in (a.error or "") for a in log)
    assert all("KASSA_WEBHOOK_ALLOW_PRIVATE=true" in (a.error or "") for a in log)
    assert all(a.response_status is None for a in log)
