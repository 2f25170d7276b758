"""A local EVM node for development and tests: anvil from the project's node_modules, and
the test stablecoin (contracts/TestStablecoin.sol, compiled into artifacts/) deployed on it.

anvil comes from the npm package ``@foundry-rs/anvil`` (pinned in package.json, installed by
``npm ci`` into node_modules/), which ships the binary per platform. Its accounts are
unlocked, so transactions are sent with ``eth_sendTransaction`` from them (no keys here).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode

from kassa.chain.abi import call_data
from kassa.chain.rpc import RpcClient, hex_int

ARTIFACTS = Path(__file__).parent / "artifacts"
ANVIL_HINT = (
    "anvil is not installed: it comes with the project's npm packages. Install Node.js "
    "(Debian: sudo apt-get install nodejs npm), then run `npm ci` in the project folder "
    "(`make test` does it when npm is there)."
)


def find_anvil(root: Path | None = None) -> Path | None:
    """The anvil binary in ``root``/node_modules (the project folder by default)."""
    base = root or Path.cwd()
    for candidate in sorted((base / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if candidate.is_file():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class DevNode:
    """A running anvil: its URL, its process, a client, its funded unlocked accounts."""

    url: str
    process: subprocess.Popen[bytes]
    rpc: RpcClient
    accounts: list[str]
    chain_id: int

    async def send(self, sender: str, to: str | None, data: str, value: int = 0) -> str:
        tx: dict[str, Any] = {"from": sender, "data": data, "value": hex(value)}
        if to is not None:
            tx["to"] = to
        tx_hash: str = await self.rpc.call("eth_sendTransaction", tx)
        return tx_hash

    async def receipt(self, tx_hash: str) -> dict[str, Any]:
        for _ in range(200):
            found = await self.rpc.call("eth_getTransactionReceipt", tx_hash)
            if found is not None:
                return dict(found)
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no receipt for {tx_hash}")

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc.call("anvil_mine", hex(blocks))

    async def head(self) -> int:
        return hex_int(await self.rpc.call("eth_blockNumber"))

    async def deploy_token(self, name: str = "Test USD Coin", symbol: str = "USDC") -> str:
        artifact = json.loads((ARTIFACTS / "TestStablecoin.json").read_text())
        data = artifact["bytecode"] + encode(["string", "string"], [name, symbol]).hex()
        receipt = await self.receipt(await self.send(self.accounts[0], None, data))
        return str(receipt["contractAddress"]).lower()

    async def mint(self, token: str, to: str, units: int) -> str:
        data = call_data("mint(address,uint256)", ["address", "uint256"], [to, units])
        return await self.send(self.accounts[0], token, data)

    async def transfer(self, token: str, sender: str, to: str, units: int) -> str:
        data = call_data("transfer(address,uint256)", ["address", "uint256"], [to, units])
        return await self.send(sender, token, data)

    async def transfer_twice(
        self, token: str, sender: str, to: str, first: int, second: int
    ) -> str:
        data = call_data(
            "transferTwice(address,uint256,uint256)",
            ["address", "uint256", "uint256"],
            [to, first, second],
        )
        return await self.send(sender, token, data)

    async def stop(self) -> None:
        await self.rpc.aclose()
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 5)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def start_devnode(
    anvil: Path, *, chain_id: int = 31337, port: int | None = None, block_time: float | None = None
) -> DevNode:
    """Start anvil on loopback (automining each transaction unless ``block_time``)."""
    port = port or free_port()
    args = [str(anvil), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]
    if block_time is not None:
        args += ["--block-time", str(block_time)]
    process = subprocess.Popen(  # noqa: ASYNC220, S603 - our binary, fixed arguments; starts at once
        [*args, "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    rpc = RpcClient(url, timeout=5)
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"anvil exited with {process.returncode}")
        try:
            accounts = await rpc.call("eth_accounts")
            break
        except Exception:
            await asyncio.sleep(0.02)
    else:
        process.kill()
        raise RuntimeError("anvil did not start")
    return DevNode(url, process, rpc, [a.lower() for a in accounts], chain_id)
