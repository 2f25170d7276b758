"""`kassa demo --chain` as a new user runs it: in the project folder it starts a local chain
and kassa and prints a session's checkout URL and a funded test wallet; paying that session
from that wallet (signed with the printed key) on the printed chain completes it. Without
anvil it says what to install."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from eth_account import Account
from eth_utils.address import to_checksum_address

from kassa.chain.abi import call_data
from kassa.chain.devnode import free_port
from kassa.chain.rpc import RpcClient, hex_int
from tests.chain.conftest import ROOT

KASSA = [sys.executable, "-m", "kassa"]


def _env(var: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env |= {"KASSA_VAR_DIR": str(var), "KASSA_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    env |= {"KASSA_LOG_LEVEL": "WARNING"}
    return env


def _printed(process: subprocess.Popen[str], until: str, timeout: float) -> str:
    """Standard output up to the line containing ``until``."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if until in line:
            return "".join(lines)
    raise AssertionError("the demo printed no banner:\n" + "".join(lines[-40:]))


def _field(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text}"
    return found.group(1)


async def _pay_and_wait(text: str) -> dict[str, object]:
    rpc_url = _field(text, r"RPC (http://127\.0\.0\.1:\d+)")
    chain_id = int(_field(text, r"chain id (\d+)"))
    token = _field(text, r"token (0x[0-9a-f]{40})")
    address = _field(text, r"address +(0x[0-9a-f]{40})")
    key = _field(text, r"private key +(0x[0-9a-f]{64})")
    amount = _field(text, r"pay exactly ([0-9.]+) USDC")
    to = _field(text, r"USDC to (0x[0-9a-f]{40})")
    checkout = _field(text, r"Checkout URL +(\S+)")
    api_key = _field(text, r"Test API key (sk_test_\S+)")
    assert Account.from_key(key).address.lower() == address  # the printed key is the wallet's
    units = int(amount.replace(".", ""))  # 6 decimals, printed in full
    rpc = RpcClient(rpc_url, timeout=5)
    try:
        nonce = hex_int(await rpc.call("eth_getTransactionCount", address, "pending"))
        signed = Account.sign_transaction(
            {
                "type": 2,
                "chainId": chain_id,
                "nonce": nonce,
                "to": to_checksum_address(token),
                "data": call_data("transfer(address,uint256)", ["address", "uint256"], [to, units]),
                "value": 0,
                "gas": 100_000,
                "maxFeePerGas": 20 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            },
            key,
        )
        await rpc.call(
            "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex().removeprefix("0x")
        )
    finally:
        await rpc.aclose()
    session_id = checkout.rsplit("/", 1)[1]
    base = checkout.split("/checkout/")[0]
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        page = await http.get(f"/checkout/{session_id}")
        assert page.status_code == 200 and amount in page.text
        body: dict[str, object] = {}
        for _ in range(120):
            got = await http.get(
                f"/v1/payment_sessions/{session_id}",
                headers={"Authorization": f"Bearer {api_key}"},
            )
            body = got.json()
            if body["status"] == "completed":
                break
            await asyncio.sleep(0.5)
        return body


async def test_the_chain_demo_prints_a_session_that_a_wallet_pays(tmp_path: Path) -> None:
    process = subprocess.Popen(  # noqa: ASYNC220 - read line by line below
        [*KASSA, "demo", "--chain"],
        cwd=ROOT,
        env=_env(tmp_path, free_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        text = await asyncio.to_thread(_printed, process, "Stop with Ctrl-C", 90)
        assert "TEST ONLY" in text and "chain id 31337" in text
        body = await asyncio.wait_for(_pay_and_wait(text), 90)
        assert body["status"] == "completed" and body["outcome"] == "paid", body
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: kassa stops, then anvil
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    assert process.returncode == 0


def test_without_anvil_the_demo_says_what_to_install(tmp_path: Path) -> None:
    done = subprocess.run(
        [*KASSA, "demo", "--chain"],
        cwd=tmp_path,  # no node_modules here
        env=_env(tmp_path / "var", free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "anvil is not installed" in done.stderr + done.stdout
    assert "Node.js" in done.stderr + done.stdout and "npm ci" in done.stderr + done.stdout
