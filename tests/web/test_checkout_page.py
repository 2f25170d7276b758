"""The hosted checkout page over HTTP (in-process; no chain node is read): what a customer
sees with and without JavaScript, what a stranger cannot see, the headers that keep the page
safe, the live status stream and the reported transaction."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.web.security import CONTENT_SECURITY_POLICY
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.openapi_conformance import api_transport

MERCHANT_ADDRESS = "0x8ba1f109551bd432803012645ac136ddd64dba72"
USDC = "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359"
USDT = "0xc2132d05d31c914a87c6611c10748aeb04b58e8f"
CHAINS = {
    "polygon": {
        "chain_id": 137,
        "rpc_urls": ["http://127.0.0.1:9"],
        "tokens": {"USDC": {"address": USDC}, "USDT": {"address": USDT}},
    }
}


@dataclass
class Shop:
    http: httpx.AsyncClient
    acme: Merchant

    async def session(self, **extra: Any) -> dict[str, Any]:
        body = {"amount": {"value": "12.34", "currency": "USD"}, **extra}
        response = await self.http.post("/v1/payment_sessions", json=body, headers=self.acme.auth)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
async def shop(db: Backend, tmp_path: Path) -> AsyncIterator[Shop]:
    from kassa.api.app import create_app

    settings = db.settings(tmp_path, chains=CHAINS, public_url="https://pay.example")
    app = create_app(settings)
    acme = await merchant(db.sessions, 'Acme <b>"Tools"</b>')
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as http,
    ):
        added = await http.post(
            "/v1/receiving_addresses",
            json={"chain": "polygon", "address": MERCHANT_ADDRESS},
            headers=acme.auth,
        )
        assert added.status_code == 201, added.text
        yield Shop(http, acme)


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)


async def test_the_page_shows_what_to_pay_escaped_and_with_its_qr_code(shop: Shop) -> None:
    created = await shop.session(
        description="<img src=x onerror=alert(1)>", success_url="https://shop.example/thanks"
    )
    assert created["checkout_url"] == f"https://pay.example/checkout/{created['id']}"
    page = await shop.http.get(f"/checkout/{created['id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    quote = next(q for q in created["quotes"] if q["token"] == "USDC")
    assert '<html lang="en">' in html
    assert "Acme &lt;b&gt;&quot;Tools&quot;&lt;/b&gt;" in html  # the name, escaped
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "12.34 USD" in html
    assert quote["amount_text"] in html and MERCHANT_ADDRESS in html
    assert html.count("<svg ") == 1 and 'aria-label="QR code of the payment link"' in html
    assert quote["payment_link"].replace("&", "&amp;") in html  # the link a wallet scans
    assert "Waiting for your payment" in html and "Expires in" in html
    assert '<noscript><meta http-equiv="refresh"' in html  # refreshes itself without JS
    assert all(not body.strip() for body in _scripts(html))  # no inline script at all
    assert " style=" not in html and "<style" not in html  # nor inline styles (CSP)
    # Two tokens: both offered, the chosen one shown (a link, so it works without JS).
    assert 'href="?pay=polygon-USDT"' in html and 'aria-current="true"' in html
    usdt = next(q for q in created["quotes"] if q["token"] == "USDT")
    chosen = await shop.http.get(f"/checkout/{created['id']}?pay=polygon-USDT&utm_source=x")
    assert chosen.status_code == 200 and f'data-units="{usdt["amount"]}"' in chosen.text


async def test_the_headers_forbid_inline_code_framing_and_referrers(shop: Shop) -> None:
    created = await shop.session()
    for path in (f"/checkout/{created['id']}", "/checkout/static/checkout.js"):
        response = await shop.http.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self';" in CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    page = await shop.http.get(f"/checkout/{created['id']}")
    assert page.headers["cache-control"] == "no-store"
    css = await shop.http.get("/checkout/static/checkout.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


MISSING = (
    "/checkout/ps_01JD2X8Q0Y3V7K2M4N6P8R0T2W",  # well formed, unknown
    "/checkout/ps_short",
    "/checkout/pay_01JD2X8Q0Y3V7K2M4N6P8R0T2W",
    "/checkout/ps_01JD2X8Q0Y3V7K2M4N6P8R0T2W'--",
)


async def test_unknown_and_malformed_ids_are_not_found(shop: Shop) -> None:
    for path in MISSING:
        response = await shop.http.get(path)
        assert response.status_code == 404, path
        assert "Payment session not found" in response.text
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert (await shop.http.get(path + "/events")).status_code == 404
        reported = await shop.http.post(path + "/transaction", json={"tx_hash": "0x" + "a" * 64})
        assert reported.status_code == 404


async def test_the_page_shows_only_its_own_session(shop: Shop, db: Backend) -> None:
    other = await merchant(db.sessions, "Other shop")
    mine = await shop.session(description="Order #1", metadata={"secret": "kept"})
    html = (await shop.http.get(f"/checkout/{mine['id']}")).text
    assert "Other shop" not in html and other.account_id not in html
    assert shop.acme.account_id not in html and "kept" not in html  # no ids, no metadata


async def test_the_page_is_rate_limited_per_ip(shop: Shop) -> None:
    created = await shop.session()
    started = time.monotonic()
    statuses: list[int] = []
    while 429 not in statuses and len(statuses) < 300:
        limited = await shop.http.get(f"/checkout/{created['id']}")
        statuses.append(limited.status_code)
    elapsed = time.monotonic() - started
    assert statuses[:60] == [200] * 60  # a minute's worth at once (seed 002: 60/min) ...
    assert statuses[-1] == 429  # ... then one a second
    assert statuses.count(200) <= 60 + elapsed + 1
    assert int(limited.headers["retry-after"]) >= 1 and "Too many requests" in limited.text


async def test_a_reported_transaction_is_kept_as_a_claim(shop: Shop) -> None:
    created = await shop.session()
    url = f"/checkout/{created['id']}/transaction"
    bad = await shop.http.post(url, json={"tx_hash": "0x123"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["type"] == "urn:kassa:error:invalid_request" and bad.json()["request_id"]
    tx = "0x" + "ab" * 32
    reported = await shop.http.post(url, json={"tx_hash": tx})
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "pending"  # the chain decides, not the claim
    again = await shop.http.post(url, json={"tx_hash": tx})
    assert again.status_code == 200  # the same hash twice is fine
    other = await shop.http.post(url, json={"tx_hash": "0x" + "cd" * 32})
    assert other.status_code == 409 and other.json()["code"] == "transaction_already_reported"
    session = await shop.http.get(f"/v1/payment_sessions/{created['id']}", headers=shop.acme.auth)
    assert session.json()["status"] == "pending"
    form = await shop.http.post(
        url, content=f"tx_hash={tx}", headers={"content-type": "text/plain"}
    )
    assert form.status_code == 415  # JSON only: a cross-site form cannot post here
    for _ in range(10):
        last = await shop.http.post(url, json={"tx_hash": tx})
    assert last.status_code == 429  # 10 a minute per IP (seed 002's wallet connections)


async def test_the_status_stream_tells_a_finished_session_and_ends(shop: Shop) -> None:
    created = await shop.session()
    expired = await shop.http.post(
        f"/v1/payment_sessions/{created['id']}/expire", headers=shop.acme.auth
    )
    assert expired.status_code == 200
    stream = await shop.http.get(f"/checkout/{created['id']}/events")
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [block for block in stream.text.split("\n\n") if block.startswith("event: status")]
    assert len(events) == 1
    data = json.loads(events[0].split("data: ", 1)[1])
    assert data["status"] == "expired" and data["finished"] is True
    assert data["text"] == "This payment session has expired."
    html = (await shop.http.get(f"/checkout/{created['id']}")).text
    assert "This payment session has expired." in html
    assert 'http-equiv="refresh"' not in html  # nothing left to wait for
