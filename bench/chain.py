"""The chain monitor on a real EVM node (anvil), on PostgreSQL, beside what a bare poller does.

Run: ``.venv/bin/python bench/chain.py [--transfers 1000 --blocks 100]``. It starts anvil from
the project's node_modules (``npm ci``), deploys the test stablecoin, creates and drops its own
database on ``KASSA_BENCH_POSTGRES_URL`` and starts ``kassa serve`` (2 API processes).

1. **Session creation** through ``POST /v1/payment_sessions`` at 64 concurrent clients, up to
   100, 1,000 and 10,000 open sessions (all the same price: each takes the next unique
   amount): p50/p99 per step. Beside it, for scale, a bare ASGI endpoint on the same uvicorn
   stack that writes nothing (``payins_ceiling.bare_app``): not a ceiling for the job, the
   cost of the HTTP stack alone.
2. **RPC calls per block range** at each of those numbers of open sessions: ``--transfers``
   transfers to the merchant spread over ``--blocks`` blocks, scanned by kassa's monitor (in
   this process, 10 blocks per range); calls per range, and the transfers it recorded. Beside
   it a bare scanner over the same ranges: ``eth_blockNumber`` + ``eth_getLogs``, the fewest
   calls that can find the logs, and the logs it found.
3. **Confirmation to webhook**: ``--transfers`` transfers paying open sessions exactly, spread
   over ``--blocks`` blocks mined one per second, with a real ``kassa worker`` scanning every
   second (the chain's block time) and delivering to a receiver in its own process; per
   transfer, the receiver's arrival of ``payment_session.completed`` minus the moment the block
   that gave it its last needed confirmation was mined. Beside it, in the same run against the
   same chain, a bare poller with the same one-second interval that POSTs to the same receiver
   as soon as it sees a transfer's confirmations (no database, no binding): the latency the
   polling interval alone costs.

Targets (issue 9): calls per range <= 3 and independent of open sessions; p99 confirmation to
webhook <= 1 s (seed 002: < 5 s); session creation p99 < 100 ms (seed 002).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

import benchlib

CONCURRENCY = 64
CONFIRMATIONS = 3
BLOCKS_PER_RANGE = 10
LEVELS = (100, 1_000, 10_000)
PRICES = 7  # sessions cycle through 10.00 .. 16.00 USD: 10,000 unique amounts per price at most


# -- the receiver (its own process) -----------------------------------------------------------
def serve(port: int) -> None:
    from aiohttp import web

    arrivals: dict[str, dict[str, float]] = {"kassa": {}, "ceiling": {}}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        payload = json.loads(body)
        if payload.get("type") == "payment_session.completed":
            arrivals["kassa"].setdefault(str(payload["data"]["tx_hash"]), now)
        elif "ceiling" in payload:
            arrivals["ceiling"].setdefault(str(payload["ceiling"]), now)
        return web.Response(text="ok")

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(arrivals)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", stats)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- helpers ----------------------------------------------------------------------------------
def _chains(node_url: str, token: str, start_block: int, block_time: float) -> dict[str, Any]:
    return {
        "local": {
            "chain_id": 31337,
            "rpc_urls": [node_url],
            "confirmations": CONFIRMATIONS,
            "block_time_seconds": block_time,
            "max_blocks_per_scan": BLOCKS_PER_RANGE,
            "start_block": start_block,
            "tokens": {"USDC": {"address": token, "decimals": 6}},
        }
    }


async def _setup(db_name: str) -> tuple[str, str]:
    """Two accounts' API keys: kassa's, and the creation ceiling's (its own address, so its
    sessions never share kassa's amounts)."""
    from kassa.accounts.accounts import create_account
    from kassa.accounts.api_keys import create_api_key
    from kassa.core.db import create_engine, session_factory, transaction

    engine = create_engine(benchlib.db_url(db_name, "postgresql+asyncpg"))
    secrets = []
    async with transaction(session_factory(engine)) as session:
        for name in ("bench", "ceiling"):
            account = await create_account(session, name=name)
            secrets.append((await create_api_key(session, account_id=account.id)).secret)
    await engine.dispose()
    return secrets[0], secrets[1]


def _uvicorn(app: str, port: int, *, factory: bool) -> list[str]:
    code = (
        f"import uvicorn; uvicorn.run({app!r}, factory={factory}, host='127.0.0.1', "
        f"port={port}, workers=2, log_config=None, access_log=False, server_header=False)"
    )
    return [sys.executable, "-c", code]


def _line(label: str, latencies_ms: list[float], failures: int = 0) -> str:
    return (
        f"  {label:58}{benchlib.pct(latencies_ms, 0.5):9.1f}"
        f"{benchlib.pct(latencies_ms, 0.99):9.1f}{failures:7}"
    )


async def _transfers(
    node: Any,
    token: str,
    payer: str,
    to: str,
    amounts: list[int],
    blocks: int,
    *,
    pace: float = 0.0,
) -> dict[int, float]:
    """Send ``amounts`` spread evenly over ``blocks`` mined blocks; when each was mined."""
    per_block = max(1, -(-len(amounts) // blocks))
    mined: dict[int, float] = {}
    for start in range(0, len(amounts), per_block):
        for units in amounts[start : start + per_block]:
            await node.transfer(token, payer, to, units)
        started = time.perf_counter()
        await node.mine(1)
        mined[await node.head()] = time.time()
        if pace:
            await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))
    return mined


async def _bare_scan(url: str, token: str, to: str, start: int, end: int) -> tuple[int, int, int]:
    """The fewest calls that find the logs: (ranges, calls, logs)."""
    from kassa.chain.rpc import RpcClient
    from kassa.chain.scanner import TRANSFER_TOPIC, address_topic

    client = RpcClient(url, timeout=10)
    ranges = logs = 0
    try:
        for first in range(start, end + 1, BLOCKS_PER_RANGE):
            await client.call("eth_blockNumber")
            found = await client.call(
                "eth_getLogs",
                {
                    "fromBlock": hex(first),
                    "toBlock": hex(min(end, first + BLOCKS_PER_RANGE - 1)),
                    "address": [token],
                    "topics": [TRANSFER_TOPIC, None, [address_topic(to)]],
                },
            )
            ranges, logs = ranges + 1, logs + len(found)
        return ranges, client.calls, logs
    finally:
        await client.aclose()


async def _bare_poller(
    url: str, token: str, to: str, receiver: str, stop: asyncio.Event, start: int
) -> None:
    """The ceiling of step 3: poll every second, POST once a transfer has its confirmations."""
    import aiohttp

    from kassa.chain.rpc import RpcClient, hex_int
    from kassa.chain.scanner import TRANSFER_TOPIC, address_topic

    client = RpcClient(url, timeout=10)
    seen: dict[str, int] = {}
    told: set[str] = set()
    cursor = start
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            head = hex_int(await client.call("eth_blockNumber"))
            if head > cursor:
                found = await client.call(
                    "eth_getLogs",
                    {
                        "fromBlock": hex(cursor + 1),
                        "toBlock": hex(head),
                        "address": [token],
                        "topics": [TRANSFER_TOPIC, None, [address_topic(to)]],
                    },
                )
                for log in found:
                    seen[str(log["transactionHash"]).lower()] = hex_int(log["blockNumber"])
                cursor = head
            for tx, block in seen.items():
                if tx not in told and head - block + 1 >= CONFIRMATIONS:
                    told.add(tx)
                    async with http.post(receiver, json={"ceiling": tx}) as response:
                        await response.read()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    await client.aclose()


# -- the run ----------------------------------------------------------------------------------
async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="Open sessions per step."
    )
    args = parser.parse_args()

    from kassa.chain.devnode import find_anvil, start_devnode

    anvil = find_anvil(benchlib.ROOT)
    if anvil is None:
        raise SystemExit("anvil is not installed: run `npm ci` in the project folder")
    node = await start_devnode(anvil)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        token = await node.deploy_token()
        payer, merchant = node.accounts[1], node.accounts[2]
        await node.receipt(await node.mint(token, payer, 10**15))
        await node.rpc.call("evm_setAutomine", False)
        start_block = await node.head() + 1
        async with benchlib.fresh_database("bench_chain") as db_name:
            try:
                await _run(args, node, token, payer, merchant, start_block, db_name, processes)
            finally:  # before the database is dropped under them
                for proc in reversed(processes):
                    benchlib.stop(proc)
    finally:
        await node.stop()


async def _run(
    args: argparse.Namespace,
    node: Any,
    token: str,
    payer: str,
    merchant: str,
    start_block: int,
    db_name: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    import aiohttp
    import asyncpg
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from kassa.chain.config import chains_of
    from kassa.chain.monitor import run_monitor
    from kassa.chain.nodes import NodePool
    from kassa.core.db import create_engine, session_factory
    from kassa.core.settings import Settings

    secret, ceiling_secret = await _setup(db_name)
    auth = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    ceiling_auth = {**auth, "Authorization": f"Bearer {ceiling_secret}"}
    chains = _chains(node.url, token, start_block, 1.0)
    env = benchlib.kassa_env(
        database_url=benchlib.db_url(db_name),
        log_level="WARNING",
        rate_limit_per_key="0",
        rate_limit_per_ip="0",
        webhook_allow_private="true",
        chains=json.dumps(chains),
        var_dir=tempfile.mkdtemp(prefix="kassa-bench-chain-"),
    )
    api_port = benchlib.free_port()
    api = subprocess.Popen(  # noqa: ASYNC220 - starts at once
        [sys.executable, "-m", "kassa", "serve", "--port", str(api_port), "--workers", "2"],
        env=env,
        cwd=benchlib.ROOT,
    )
    processes.append(api)
    base = f"http://127.0.0.1:{api_port}"
    await benchlib.wait_up(f"{base}/health", api)
    receiver_port = benchlib.free_port()
    receiver = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, __file__, "--serve", str(receiver_port)], cwd=benchlib.ROOT
    )
    processes.append(receiver)
    hook = f"http://127.0.0.1:{receiver_port}/hook"
    async with aiohttp.ClientSession(headers=auth) as http:
        for path, body in (
            ("/v1/receiving_addresses", {"chain": "local", "address": merchant}),
            (
                "/v1/webhook_endpoints",
                {"url": hook, "enabled_events": ["payment_session.completed"]},
            ),
        ):
            async with http.post(base + path, json=body) as response:
                assert response.status == 201, await response.text()
        async with http.post(
            base + "/v1/receiving_addresses",
            json={"chain": "local", "address": node.accounts[3]},
            headers=ceiling_auth,
        ) as response:
            assert response.status == 201, await response.text()
    ceiling_port = benchlib.free_port()
    ceiling = subprocess.Popen(  # noqa: ASYNC220
        _uvicorn("sessions_ceiling:sessions_app", ceiling_port, factory=True),
        env={
            **benchlib.with_bench_modules(
                benchlib.kassa_env(database_url=benchlib.db_url(db_name))
            ),
            "BENCH_TOKEN": token,
        },
        cwd=benchlib.ROOT,
    )
    processes.append(ceiling)
    await benchlib.wait_up(f"http://127.0.0.1:{ceiling_port}/health", ceiling)

    settings = Settings(
        database_url=benchlib.db_url(db_name, "postgresql+asyncpg"),
        secret_key=benchlib.SECRET_KEY,
        chains=chains,
    )
    engine = create_engine(settings.database_url)
    sessions: async_sessionmaker[Any] = session_factory(engine)
    chain = chains_of(settings)["local"]
    pool = NodePool(chain, timeout=10, max_lag=5)
    print(
        f"anvil {node.url}; {args.transfers} transfers over {args.blocks} blocks per step; "
        f"{CONFIRMATIONS} confirmations; {BLOCKS_PER_RANGE} blocks per range\n"
    )
    print(f"  {'session creation, 64 clients':58}{'p50 ms':>9}{'p99 ms':>9}{'errors':>7}")
    open_sessions = 0
    quotes: list[int] = []
    scans: list[str] = []
    url = f"{base}/v1/payment_sessions"
    for level in (int(n) for n in args.levels.split(",")):
        load = await _create_sessions(url, auth, level - open_sessions)
        print(_line(f"kassa: sessions {open_sessions + 1:,} to {level:,}", load[0], load[1]))
        honest = await _create_sessions(
            f"http://127.0.0.1:{ceiling_port}/v1/payment_sessions",
            ceiling_auth,
            level - open_sessions,
        )
        print(_line("  honest ceiling (uvicorn + asyncpg), the same", honest[0], honest[1]))
        open_sessions = level
        quotes.extend(load[2])
        # Step 2 at this level: transfers to the merchant matching no session.
        first = await node.head() + 1
        amounts = [7_000_000 + i for i in range(args.transfers)]
        await _transfers(node, token, payer, merchant, amounts, args.blocks)
        await node.mine(CONFIRMATIONS)
        results = await run_monitor(sessions, pool, chain, owner="bench", max_scans=10_000)
        ranges = [r for r in results if r.from_block is not None]
        calls = [r.rpc_calls for r in ranges]
        recorded = sum(len(r.new) for r in results)
        end = max(r.to_block or 0 for r in ranges)
        bare = await _bare_scan(node.url, token, merchant, first, end)
        scans.append(
            f"  {level:>7,} open   kassa {len(ranges):4} ranges, calls/range min {min(calls)} "
            f"max {max(calls)}, {recorded:5} transfers recorded | bare scanner {bare[0]:4} "
            f"ranges, calls/range {bare[1] / max(1, bare[0]):.0f}, {bare[2]:5} logs"
        )
    bare_load = await _bare_creation(auth)
    print(_line("for scale: bare ASGI endpoint, same uvicorn, writes nothing", bare_load))
    print("\nRPC calls per block range (the monitor's budget: <= 3, whatever is open)")
    print("\n".join(scans))

    # Step 3: the worker takes over the monitor (its lease: ours expires, so drop it now).
    conn = await asyncpg.connect(benchlib.db_url(db_name))
    await conn.execute("UPDATE chain_cursors SET lease_owner = NULL, lease_until = NULL")
    await conn.execute("DELETE FROM jobs WHERE status = 'queued'")  # step 2's unmatched ones
    await conn.close()
    worker = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "kassa", "worker"], env=env, cwd=benchlib.ROOT
    )
    processes.append(worker)
    await asyncio.sleep(3)  # its start-up and first scans
    stop = asyncio.Event()
    poller = asyncio.create_task(
        _bare_poller(node.url, token, merchant, hook, stop, await node.head())
    )
    paying = quotes[: args.transfers]
    mined = await _transfers(node, token, payer, merchant, paying, args.blocks, pace=1.0)
    for _ in range(CONFIRMATIONS + 1):
        started = time.perf_counter()
        await node.mine(1)
        mined[await node.head()] = time.time()
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))
    await asyncio.sleep(5)  # the last deliveries
    stop.set()
    await poller
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{receiver_port}/stats") as response,
    ):
        arrivals = await response.json()
    blocks = await _tx_blocks(node, list(arrivals["kassa"]) + list(arrivals["ceiling"]))
    print(
        "\nconfirmation to webhook: arrival minus the mining of the block giving the last "
        "needed confirmation"
    )
    print(f"  {'':58}{'p50 ms':>9}{'p99 ms':>9}{'missing':>8}")
    for side, label in (
        ("kassa", "kassa worker (1 process), scan every 1 s"),
        ("ceiling", "bare poller, 1 s interval, no database"),
    ):
        waits = [
            (at - mined[blocks[tx] + CONFIRMATIONS - 1]) * 1000
            for tx, at in arrivals[side].items()
            if tx in blocks and blocks[tx] + CONFIRMATIONS - 1 in mined
        ]
        missing = len(paying) - len(waits)
        print(
            f"  {label:58}{benchlib.pct(waits, 0.5):9.0f}{benchlib.pct(waits, 0.99):9.0f}"
            f"{missing:8}"
        )
    await _breakdown(db_name, mined, blocks, arrivals["kassa"])
    await pool.aclose()
    await engine.dispose()


async def _breakdown(
    db_name: str, mined: dict[int, float], blocks: dict[str, int], arrivals: dict[str, float]
) -> None:
    """Where kassa's latency goes, per transfer, from its own timestamps: the block's mining
    to the scan that counted the last confirmation (``chain_transfers.confirmed_at``), to the
    ``payment_session.completed`` event (the binding job), to the receiver's arrival."""
    import asyncpg

    conn = await asyncpg.connect(benchlib.db_url(db_name))
    rows = await conn.fetch(
        "SELECT t.tx_hash, t.confirmed_at, e.created_at AS emitted FROM chain_transfers t "
        "JOIN events e ON e.type = 'payment_session.completed' "
        "AND e.data->>'tx_hash' = t.tx_hash"
    )
    await conn.close()
    parts: dict[str, list[float]] = {"scan": [], "bind": [], "deliver": []}
    for row in rows:
        tx = row["tx_hash"]
        last = blocks.get(tx, -1) + CONFIRMATIONS - 1
        if tx not in arrivals or last not in mined or row["confirmed_at"] is None:
            continue
        confirmed, emitted = row["confirmed_at"].timestamp(), row["emitted"].timestamp()
        parts["scan"].append((confirmed - mined[last]) * 1000)
        parts["bind"].append((emitted - confirmed) * 1000)
        parts["deliver"].append((arrivals[tx] - emitted) * 1000)
    for label, key in (
        ("  of which: mined to the scan's commit (confirmed_at)", "scan"),
        ("            to the completed event (binding job)", "bind"),
        ("            to the receiver (fan-out job, POST)", "deliver"),
    ):
        waits = parts[key]
        print(f"  {label:58}{benchlib.pct(waits, 0.5):9.0f}{benchlib.pct(waits, 0.99):9.0f}")


async def _tx_blocks(node: Any, hashes: list[str]) -> dict[str, int]:
    from kassa.chain.rpc import Call, hex_int

    found: dict[str, int] = {}
    for i in range(0, len(hashes), 200):
        part = hashes[i : i + 200]
        receipts = await node.rpc.batch([Call("eth_getTransactionReceipt", [h]) for h in part])
        for tx, receipt in zip(part, receipts, strict=True):
            if isinstance(receipt, dict):
                found[tx] = hex_int(receipt["blockNumber"])
    return found


async def _create_sessions(
    url: str, auth: dict[str, str], count: int
) -> tuple[list[float], int, list[int]]:
    """POST ``count`` sessions from 64 clients; latencies, failures, each quote's amount."""
    import aiohttp

    latencies: list[float] = []
    amounts: list[int] = []
    failures = 0
    remaining = count
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=auth) as http:

        async def client() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                price = {"value": f"{10 + remaining % PRICES}.00", "currency": "USD"}
                async with http.post(url, json={"amount": price}) as response:
                    body = await response.json()
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status == 201:
                    amounts.append(int(body["quotes"][0]["amount"]))
                else:
                    failures += 1

        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return latencies, failures, amounts


async def _bare_creation(auth: dict[str, str]) -> list[float]:
    port = benchlib.free_port()
    env = benchlib.with_bench_modules(benchlib.kassa_env())
    proc = subprocess.Popen(  # noqa: ASYNC220
        _uvicorn("payins_ceiling:bare_app", port, factory=False), env=env, cwd=benchlib.ROOT
    )
    try:
        await benchlib.wait_up(f"http://127.0.0.1:{port}/", proc)
        load = await benchlib.post_load(
            f"http://127.0.0.1:{port}/v1/payment_sessions",
            2000,
            lambda _: auth,
            concurrency=CONCURRENCY,
            body={"amount": {"value": "10.00", "currency": "USD"}},
        )
        return load.latencies_ms
    finally:
        benchlib.stop(proc)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        asyncio.run(main())
