"""PayPal webhooks at POST /webhooks/paypal: the transmission signature checked locally with
the certificate PAYPAL-CERT-URL names (served here on loopback), or by PayPal's API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from kassa.webhooks.inbound.signatures.certificates import PAYPAL_CERT_HOSTS, allowed
from tests.conftest import Backend
from tests.helpers import free_port
from tests.webhooks.inbound.conftest import (
    CERT_PATH,
    CertServer,
    Inbound,
    provider_settings,
    start_inbound,
)
from tests.webhooks.inbound.signing import PAYPAL_WEBHOOK_ID, PayPalSigner, paypal_event


async def post(inbound: Inbound, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    response = await inbound.http.post("/webhooks/paypal", content=body, headers=headers)
    return response.status_code, response.json().get("code", "")


async def test_a_signed_event_is_stored_and_the_certificate_fetched_once(
    inbound: Inbound, cert_server: CertServer
) -> None:
    for n in range(3):
        body = paypal_event(f"WH-SIGNED-{n}")
        status, _ = await post(inbound, body, cert_server.signer.headers(body, cert_server.url))
        assert status == 200
    rows = await inbound.rows()
    assert [r.event_id for r in rows] == ["WH-SIGNED-0", "WH-SIGNED-1", "WH-SIGNED-2"]
    assert rows[0].event_type == "PAYMENT.CAPTURE.COMPLETED" and rows[0].provider == "paypal"
    assert cert_server.fetches == 1  # cached
    assert len(await inbound.jobs()) == 3


async def test_a_redelivery_stores_nothing(inbound: Inbound, cert_server: CertServer) -> None:
    body = paypal_event("WH-TWICE")
    for _ in range(2):  # PayPal sends a new transmission, same event id
        status, _ = await post(inbound, body, cert_server.signer.headers(body, cert_server.url))
        assert status == 200
    assert await inbound.count() == 1 and len(await inbound.jobs()) == 1


@pytest.mark.parametrize(
    "case",
    [
        "tampered",
        "other_webhook_id",
        "stale",
        "other_key",
        "foreign_cert_url",
        "https_lookalike",
        "unsigned",
        "bad_algo",
        "not_base64",
    ],
)
async def test_refused_deliveries_store_nothing(
    inbound: Inbound, cert_server: CertServer, case: str
) -> None:
    body = paypal_event("WH-REFUSED")
    signer = cert_server.signer
    headers = signer.headers(body, cert_server.url)
    if case == "tampered":
        body = body.replace(b"COMPLETED", b"DENIED")
    elif case == "other_webhook_id":
        headers = signer.headers(body, cert_server.url, webhook_id="9XX00000000000000")
    elif case == "stale":
        headers = signer.headers(body, cert_server.url, at=datetime.now(UTC) - timedelta(hours=1))
    elif case == "other_key":
        headers = PayPalSigner().headers(body, cert_server.url)  # not the served certificate
    elif case == "foreign_cert_url":
        headers = signer.headers(body, "http://127.0.0.2:1" + CERT_PATH)
    elif case == "https_lookalike":
        headers = signer.headers(body, "https://api.paypal.com.evil.example" + CERT_PATH)
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "bad_algo":
        headers["PAYPAL-AUTH-ALGO"] = "SHA1withRSA"
    else:
        headers["PAYPAL-TRANSMISSION-SIG"] = "%%%"
    status, code = await post(inbound, body, headers)
    assert (status, code) == (400, "invalid_signature")
    assert await inbound.count() == 0


async def test_an_expired_certificate_is_refused(
    db: Backend, tmp_path: Path, cert_server: CertServer
) -> None:
    cert_server.signer = PayPalSigner(expired=True)
    async for inbound in start_inbound(provider_settings(db, tmp_path, cert_server.origin), db):
        body = paypal_event("WH-EXPIRED")
        status, code = await post(inbound, body, cert_server.signer.headers(body, cert_server.url))
        assert (status, code) == (400, "invalid_signature")
        assert await inbound.count() == 0


def test_only_paypal_hosts_serve_certificates_by_default() -> None:
    good = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-ad47cb8d"
    assert allowed(good, PAYPAL_CERT_HOSTS)
    assert allowed(good.replace("api.", "api.sandbox."), PAYPAL_CERT_HOSTS)
    for bad in (
        good.replace("https", "http"),
        good.replace("api.paypal.com", "api.paypal.com.evil.example"),
        good.replace("api.paypal.com", "evil.example"),
        good.replace("api.paypal.com", "user@api.paypal.com"),
        good.replace("api.paypal.com", "api.paypal.com:8443"),
        good.replace("/v1/notifications/certs/", "/v1/other/"),
        good + "?x=1",
    ):
        assert not allowed(bad, PAYPAL_CERT_HOSTS), bad


@pytest.fixture
async def paypal_api() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """PayPal's OAuth token and verify-webhook-signature endpoints on loopback: SUCCESS for
    the webhook id the tests configure."""
    seen: list[dict[str, object]] = []

    async def token(request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Basic ")
        return web.json_response({"access_token": "A21AA-token", "expires_in": 32400})

    async def verify(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer A21AA-token"
        document = await request.json()
        seen.append(document)
        ok = document["webhook_id"] == PAYPAL_WEBHOOK_ID and document["transmission_sig"] != "x"
        return web.json_response({"verification_status": "SUCCESS" if ok else "FAILURE"})

    app = web.Application()
    app.router.add_post("/v1/oauth2/token", token)
    app.router.add_post("/v1/notifications/verify-webhook-signature", verify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_api_mode_asks_paypal(
    db: Backend,
    tmp_path: Path,
    cert_server: CertServer,
    paypal_api: tuple[str, list[dict[str, object]]],
) -> None:
    base, seen = paypal_api
    settings = provider_settings(
        db, tmp_path, cert_server.origin, paypal_webhook_verify="api", paypal_api_base=base
    )
    async for inbound in start_inbound(settings, db):
        body = paypal_event("WH-BY-API")
        headers = cert_server.signer.headers(body, cert_server.url)
        assert (await post(inbound, body, headers))[0] == 200
        headers["PAYPAL-TRANSMISSION-SIG"] = "x"
        assert await post(inbound, paypal_event("WH-REFUSED-BY-API"), headers) == (
            400,
            "invalid_signature",
        )
        assert [r.event_id for r in await inbound.rows()] == ["WH-BY-API"]
    assert seen[0]["webhook_event"]["id"] == "WH-BY-API"  # type: ignore[index]
    assert cert_server.fetches == 0  # PayPal checked it, not kassa


async def test_api_mode_with_paypal_unreachable_is_a_503_and_stores_nothing(
    db: Backend, tmp_path: Path, cert_server: CertServer
) -> None:
    settings = provider_settings(
        db,
        tmp_path,
        cert_server.origin,
        paypal_webhook_verify="api",
        paypal_api_base=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    async for inbound in start_inbound(settings, db):
        body = paypal_event("WH-UNVERIFIED")
        headers = cert_server.signer.headers(body, cert_server.url)
        response = await inbound.http.post("/webhooks/paypal", content=body, headers=headers)
        assert response.status_code == 503, response.text  # PayPal delivers it again later
        assert response.json()["code"] == "paypal_verify_unavailable"
        assert await inbound.count() == 0
