"""The hosted checkout in a real browser, end to end: `kassa run` (API, worker, chain monitor)
watching a real anvil node, headless Chromium (Debian's, through Playwright) with an injected
EIP-1193 wallet backed by an unlocked anvil account, and the merchant's webhook receiver.

From "Connect wallet" to the redirect to success_url, the receiver gets
payment_session.completed, verified with the standardwebhooks library. The same page is
checked without JavaScript (address, exact amount, QR code), and screenshots are saved at
desktop and phone width (their paths are printed; copied to ``KASSA_SCREENSHOT_DIR`` when it is
set, to keep them after the run).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks
from aiohttp import web

from tests.chain.conftest import Chain, anvil_binary, chain  # noqa: F401 - the fixtures
from tests.conftest import IN_CI
from tests.factories import merchant
from tests.helpers import ROOT, free_port, kassa_env
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_HINT = "install Debian's chromium: sudo apt-get install chromium"
CONFIRMATIONS = 3
KEEP = os.environ.get("KASSA_SCREENSHOT_DIR")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

# The wallet a browser extension would inject: accounts and chain switching are answered
# here; every other call goes, outside the page (a Playwright binding, as an extension's
# background does, so the page's CSP does not apply to it), to anvil's JSON-RPC.
WALLET = """
(() => {
  const state = { chainId: "0x1", account: ACCOUNT, real: REAL_CHAIN };
  const listeners = {};
  const emit = (name, value) => (listeners[name] || []).forEach((f) => f(value));
  window.__walletCalls = [];
  window.ethereum = {
    isKassaTestWallet: true,
    async request({ method, params }) {
      window.__walletCalls.push(method);
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [state.account];
      if (method === "eth_chainId") return state.chainId;
      if (method === "net_version") return String(parseInt(state.chainId, 16));
      if (method === "wallet_switchEthereumChain") {
        if (params[0].chainId !== state.real) {
          const error = new Error("Unrecognized chain"); error.code = 4902; throw error;
        }
        state.chainId = state.real; emit("chainChanged", state.chainId); return null;
      }
      if (state.chainId !== state.real) {
        const error = new Error("wrong chain in the test wallet"); error.code = 4901; throw error;
      }
      const answer = await window.kassaWalletRpc(method, params || []);
      if (answer.error) {
        const error = new Error(answer.error.message); error.code = answer.error.code;
        error.data = answer.error.data; throw error;
      }
      return answer.result;
    },
    on(name, f) { (listeners[name] = listeners[name] || []).push(f); },
    removeListener(name, f) { listeners[name] = (listeners[name] || []).filter((g) => g !== f); },
  };
})();
"""


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(CHROMIUM_HINT)
        pytest.skip(CHROMIUM_HINT)
    return CHROMIUM


@dataclass
class Kassa:
    base: str
    key: str
    http: httpx.AsyncClient

    async def post(self, path: str, **body: Any) -> dict[str, Any]:
        response = await self.http.post(
            path, json=body, headers={"Authorization": f"Bearer {self.key}"}
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    async def get(self, path: str) -> dict[str, Any]:
        response = await self.http.get(path, headers={"Authorization": f"Bearer {self.key}"})
        assert response.status_code == 200, response.text
        return dict(response.json())


async def _merchant(url: str) -> str:
    """A migrated database with a merchant in it; its API key."""
    from kassa.core import migrate
    from kassa.core.db import create_engine, session_factory

    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url, pool_size=1)
    try:
        return (await merchant(session_factory(engine), "Acme Tools")).key
    finally:
        await engine.dispose()


@pytest.fixture
async def kassa(chain: Chain, tmp_path: Path) -> AsyncIterator[Kassa]:  # noqa: F811
    """`kassa serve` and `kassa worker` (what `kassa run` starts), started side by side."""
    port = free_port()
    chains = {
        "local": {
            "chain_id": chain.node.chain_id,
            "rpc_urls": [chain.node.url],
            "confirmations": CONFIRMATIONS,
            "block_time_seconds": 1,
            "start_block": 0,
            "tokens": {"USDC": {"address": chain.token, "decimals": 6}},
        }
    }
    database = tmp_path / "kassa.db"
    key = await _merchant(f"sqlite+aiosqlite:///{database}")
    env = kassa_env(
        KASSA_VAR_DIR=str(tmp_path / "var"),
        KASSA_DATABASE_URL=f"sqlite:///{database}",
        KASSA_SECRET_KEY="e2e-checkout-" + "k" * 40,
        KASSA_PORT=str(port),
        KASSA_CHAINS=json.dumps(chains),
        KASSA_WEBHOOK_ALLOW_PRIVATE="true",
        KASSA_WORKER_POLL_INTERVAL="0.05",
        KASSA_LOG_LEVEL="WARNING",
    )
    processes = [
        subprocess.Popen(  # noqa: ASYNC220 - started, not waited for
            [sys.executable, "-m", "kassa", command], env=env, cwd=ROOT
        )
        for command in ("serve", "worker")
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:

            async def healthy() -> bool:
                assert all(p.poll() is None for p in processes), "kassa exited"
                try:
                    health = (await http.get("/health")).json()
                except httpx.TransportError:
                    return False
                return bool(health.get("checks", {}).get("worker", {}).get("status") == "ok")

            await _until(healthy, "kassa serve and worker to be up", seconds=90)
            yield Kassa(base, key, http)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = await Receiver().start()

    async def thanks(_: web.Request) -> web.StreamResponse:
        return web.Response(
            text="<!doctype html><title>Thanks</title><h1>Thanks!</h1>", content_type="text/html"
        )

    hooks.behave("success", thanks)
    yield hooks
    await hooks.stop()


async def _until(check: Any, what: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await check() if asyncio.iscoroutinefunction(check) else check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _keep(shot: Path) -> Path:
    """Copy a screenshot to KASSA_SCREENSHOT_DIR when it is set (and that folder can be made)."""
    if not KEEP:
        return shot
    try:
        Path(KEEP).mkdir(parents=True, exist_ok=True)
        kept = Path(KEEP) / shot.name
        shutil.copyfile(shot, kept)
    except OSError:
        return shot
    return kept


async def test_a_customer_pays_from_a_browser_wallet_and_the_merchant_is_told(
    chromium: Path,
    chain: Chain,  # noqa: F811
    kassa: Kassa,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    await kassa.post("/v1/receiving_addresses", chain="local", address=chain.merchant)
    endpoint = await kassa.post(
        "/v1/webhook_endpoints",
        url=receiver.url("hook"),
        enabled_events=["payment_session.completed"],
    )
    success = receiver.url("success")
    session = await kassa.post(
        "/v1/payment_sessions",
        amount={"value": "12.34", "currency": "USD"},
        description="Order #1234",
        success_url=success,
        cancel_url=receiver.url("cart"),
    )
    assert session["checkout_url"] == f"{kassa.base}/checkout/{session['id']}"
    [quote] = session["quotes"]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    rpc = httpx.AsyncClient(timeout=10)

    async def wallet_rpc(method: str, params: list[Any]) -> dict[str, Any]:
        answer = await rpc.post(
            chain.node.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
        return dict(answer.json())

    wallet = WALLET.replace("ACCOUNT", json.dumps(chain.payer)).replace(
        "REAL_CHAIN", json.dumps(hex(chain.node.chain_id))
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            context = await browser.new_context(viewport=DESKTOP)
            await context.expose_function("kassaWalletRpc", wallet_rpc)
            await context.add_init_script(wallet)
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            await page.goto(session["checkout_url"])
            await expect(page.locator("#amount")).to_have_text(quote["amount_text"])
            await expect(page.get_by_role("status")).to_contain_text("Waiting for your payment")
            desktop = shots / "checkout-desktop-1280x800.png"
            await page.screenshot(path=str(desktop), full_page=True)

            await page.get_by_role("button", name="Connect wallet").click()
            pay = page.get_by_role("button", name=f"Pay {quote['amount_text']} USDC")
            await expect(pay).to_be_visible()
            await pay.click()
            await expect(page.get_by_role("status")).to_contain_text(
                f"confirming 1/{CONFIRMATIONS}", timeout=20_000
            )
            paying = shots / "checkout-desktop-1280x800-confirming.png"
            await page.screenshot(path=str(paying))
            calls = await page.evaluate("window.__walletCalls")
            assert "wallet_switchEthereumChain" in calls and "eth_sendTransaction" in calls
            await chain.node.mine(CONFIRMATIONS - 1)
            await page.wait_for_url(success, timeout=20_000)
            assert await page.locator("h1").text_content() == "Thanks!"
            assert not problems, problems  # no script error, no CSP violation

            got = await _until(lambda: receiver.at("hook"), "the completed webhook")
            headers = {k.lower(): v for k, v in got[0].headers.items()}
            event = standardwebhooks.Webhook(endpoint["secret"]).verify(got[0].body, headers)
            assert event["type"] == "payment_session.completed"
            assert event["data"]["id"] == session["id"]
            assert event["data"]["status"] == "completed" and event["data"]["outcome"] == "paid"
            paid = await kassa.get(f"/v1/payment_sessions/{session['id']}")
            assert paid["status"] == "completed" and paid["tx_hash"] == event["data"]["tx_hash"]

            # A second order, at phone width: with JavaScript, then without.
            second = await kassa.post(
                "/v1/payment_sessions", amount={"value": "12.34", "currency": "USD"}
            )
            [second_quote] = second["quotes"]
            phone = await browser.new_context(viewport=PHONE, is_mobile=True)
            phone_page = await phone.new_page()
            await phone_page.goto(second["checkout_url"])
            await expect(phone_page.locator("#amount")).to_have_text(second_quote["amount_text"])
            await expect(phone_page.locator("#wallet-message")).to_contain_text(
                "No browser wallet found"  # this context has no wallet: the QR code it is
            )
            width = await phone_page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"horizontal scroll at 375 px: {width}"
            phone_shot = shots / "checkout-phone-375x740.png"
            await phone_page.screenshot(path=str(phone_shot), full_page=True)

            plain = await browser.new_context(viewport=PHONE, java_script_enabled=False)
            plain_page = await plain.new_page()
            await plain_page.goto(second["checkout_url"])
            assert await plain_page.locator("#amount").text_content() == second_quote["amount_text"]
            assert await plain_page.locator("#address").text_content() == chain.merchant
            assert await plain_page.locator("svg.qr-code path").count() >= 1
            for name in ("Connect wallet", "Copy amount", "Copy address"):
                assert await plain_page.get_by_role("button", name=name).is_hidden(), name
            assert await plain_page.get_by_role("status").text_content()
            nojs_shot = shots / "checkout-phone-375x740-nojs.png"
            await plain_page.screenshot(path=str(nojs_shot), full_page=True)
        finally:
            await browser.close()
            await rpc.aclose()
    for shot in (desktop, paying, phone_shot, nojs_shot):
        print(f"screenshot: {shot} (kept at {_keep(shot)})")
