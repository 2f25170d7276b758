"""`kassa demo --chain`: pay a stablecoin session on your own machine, in one command.

It starts anvil (a local EVM node, from the project's node_modules) with its state kept under
var/chain-demo/, deploys the test stablecoin there once, funds a test wallet with it, watches
the chain for the demo account, creates a payment session, prints its checkout URL and the
wallet, then runs kassa (API and worker, as `kassa run`) until Ctrl-C, and stops anvil.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from kassa.chain.config import chains_of
from kassa.chain.devnode import ANVIL_HINT, DevNode, find_anvil, free_port
from kassa.chain.models import ChainCursor, ReceivingAddress
from kassa.chain.rpc import RpcClient
from kassa.core.chain_settings import ChainSettings
from kassa.core.db import create_engine, session_factory, transaction
from kassa.core.money import Money
from kassa.core.settings import Settings
from kassa.demo import DemoCredentials, ensure_demo

CHAIN_KEY, CHAIN_ID = "local", 31337
# anvil's first dev accounts, from its public test mnemonic ("test test ... junk"): known to
# everyone, for a local chain only. Never send real funds to them.
WALLET = (
    "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)
MERCHANT = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"  # the demo account's receiving address
USUAL_PORT = 8545
FUNDS = 1_000 * 10**6  # 1,000 test USDC in the wallet


class DemoError(Exception):
    """What the user must fix before the demo can run (one line, no traceback)."""


def _start_anvil(anvil: Path, state_dir: Path, port: int) -> subprocess.Popen[bytes]:
    state_dir.mkdir(parents=True, exist_ok=True)
    args = [str(anvil), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(CHAIN_ID)]
    # A block a second (confirmations count as on a real chain); state kept across starts.
    args += ["--block-time", "1", "--state", str(state_dir / "anvil.json"), "--state-interval", "2"]
    return subprocess.Popen(  # noqa: S603 - our binary, fixed arguments
        [*args, "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _token(node: DevNode, saved: Path) -> str:
    """The test stablecoin: the one deployed before if the chain still has it, else a new one
    (then the chain is new too: the monitor's cursor of the old one is dropped)."""
    if saved.exists():
        token = str(json.loads(saved.read_text())["token"])
        if await node.rpc.call("eth_getCode", token, "latest") not in ("0x", "0x0", None):
            return token
    token = await node.deploy_token()
    await node.receipt(await node.mint(token, WALLET[0], FUNDS))
    saved.write_text(json.dumps({"token": token}))
    return token


async def _wait(rpc: RpcClient, process: subprocess.Popen[bytes]) -> list[str]:
    for _ in range(300):
        if process.poll() is not None:
            raise DemoError(f"anvil exited with {process.returncode}")
        try:
            accounts: list[str] = await rpc.call("eth_accounts")
            return [a.lower() for a in accounts]
        except Exception:
            await asyncio.sleep(0.05)
    raise DemoError("anvil did not start within 15 seconds")


def chain_config(rpc_url: str, token: str) -> dict[str, Any]:
    return {
        CHAIN_KEY: {
            "chain_id": CHAIN_ID,
            "rpc_urls": [rpc_url],
            "confirmations": 2,
            "block_time_seconds": 1,
            "start_block": 0,
            "tokens": {"USDC": {"address": token, "decimals": 6}},
        }
    }


async def _prepare(settings: Settings, fresh_chain: bool) -> tuple[DemoCredentials, dict[str, Any]]:
    """The demo account with a receiving address on the local chain, and a new session."""
    from kassa.payins.sessions.addresses import add_address
    from kassa.payins.sessions.create import NewSession, create_session

    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        creds = await ensure_demo(sessions, settings.var_dir)
        chains = chains_of(settings)
        async with transaction(sessions) as session:
            if fresh_chain:
                await session.execute(delete(ChainCursor).where(ChainCursor.chain == CHAIN_KEY))
            known = await session.scalar(
                select(ReceivingAddress.id).where(
                    ReceivingAddress.chain == CHAIN_KEY,
                    ReceivingAddress.address == MERCHANT,
                    ReceivingAddress.livemode.is_(False),
                )
            )
            if known is None:
                await add_address(
                    session,
                    account_id=creds.account_id,
                    livemode=False,
                    chain=CHAIN_KEY,
                    address=MERCHANT,
                    chains=chains,
                )
        async with transaction(sessions) as session:
            data = await create_session(
                session,
                NewSession(
                    account_id=creds.account_id,
                    livemode=False,
                    amount=Money(1234, "USD"),
                    description="kassa demo: a local-chain payment",
                    metadata={},
                    success_url=None,
                    cancel_url=None,
                    chains=[CHAIN_KEY],
                    tokens=None,
                    expires_in=timedelta(hours=1),
                ),
                chains,
            )
        return creds, data
    finally:
        await engine.dispose()


async def _chain(
    anvil: Path, state_dir: Path, port: int
) -> tuple[subprocess.Popen[bytes], str, bool]:
    process = _start_anvil(anvil, state_dir, port)
    url = f"http://127.0.0.1:{port}"
    rpc = RpcClient(url, timeout=5)
    try:
        accounts = await _wait(rpc, process)
        node = DevNode(url, process, rpc, accounts, CHAIN_ID)
        saved = state_dir / "token.json"
        before = json.loads(saved.read_text())["token"] if saved.exists() else None
        token = await _token(node, saved)
        return process, token, token != before
    except BaseException:
        process.terminate()
        raise
    finally:
        await rpc.aclose()


def _wait_for_api(url: str, seconds: float = 60) -> None:
    """The banner once the checkout URL answers (the API takes a few seconds to start)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                return
        except urllib.error.HTTPError:
            return  # it answers (a 503 names what is unhealthy: /health shows it)
        except OSError:
            time.sleep(0.2)


def _port() -> int:
    """anvil's usual 8545 (a browser wallet's network keeps working across starts), or
    another free one when that is taken."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", USUAL_PORT))
        except OSError:
            return free_port()
    return USUAL_PORT


def banner(
    settings: Settings, creds: DemoCredentials, session: dict[str, Any], rpc_url: str
) -> str:
    base = settings.base_url.rstrip("/")
    [quote] = session["quotes"]
    return "\n".join(
        [
            "",
            "kassa chain demo: a local chain (anvil) with a test USDC, and a session to pay",
            f"  Checkout URL   {base}/checkout/{session['id']}",
            f"  Session        {session['id']}: pay exactly {quote['amount_text']} "
            f"{quote['token']} to {quote['to_address']}",
            f"  Local chain    RPC {rpc_url}   chain id {CHAIN_ID}   token {quote['token_address']}",
            "  Test wallet    (TEST ONLY: anvil's public dev account; never hold real funds in it)",
            f"    address      {WALLET[0]}",
            f"    private key  {WALLET[1]}",
            "  In a browser wallet (e.g. MetaMask): add a network with that RPC URL, chain id "
            f"{CHAIN_ID} and currency ETH; import the private key; import the token "
            f"{quote['token_address']} (USDC, 6 decimals); then open the checkout URL.",
            f"  Demo account   {creds.account_id}   Test API key {creds.api_key}",
            f"  Session status curl -H 'Authorization: Bearer {creds.api_key}' "
            f"{base}/v1/payment_sessions/{session['id']}",
            "  kassa is starting (API and worker). Stop with Ctrl-C.",
            "",
        ]
    )


def run_chain_demo(settings: Settings, root: Path | None = None) -> int:
    """Everything above; returns the exit code. DemoError: what to install or fix."""
    from kassa.core import migrate as migrations
    from kassa.runtime import Supervisor, child_commands

    anvil = find_anvil(root or Path.cwd())
    if anvil is None:
        raise DemoError(ANVIL_HINT + " Run `kassa demo --chain` in the project folder.")
    settings.secret_key_bytes()  # created once in development, before the children start
    migrations.upgrade(settings.effective_database_url)
    port = _port()
    process, token, fresh = asyncio.run(_chain(anvil, settings.var_dir / "chain-demo", port))
    try:
        rpc_url = f"http://127.0.0.1:{port}"
        config = chain_config(rpc_url, token)
        parsed = {key: ChainSettings.model_validate(raw) for key, raw in config.items()}
        chained = settings.model_copy(update={"chains": parsed})
        creds, session = asyncio.run(_prepare(chained, fresh))
        env = {**os.environ, "KASSA_CHAINS": json.dumps(config)}
        supervisor = Supervisor(child_commands(), env)
        text = banner(chained, creds, session, rpc_url)

        def ready() -> None:
            _wait_for_api(f"http://{settings.host}:{settings.port}/health")
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

        return supervisor.run(on_ready=ready)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
