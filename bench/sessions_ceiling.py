"""The honest ceiling of session creation (bench/chain.py): ``POST /v1/payment_sessions`` done
by hand on asyncpg against kassa's schema, on the same uvicorn stack and settings as
``kassa serve`` (2 processes, a pool of 10 connections each), writing the rows kassa writes.

Per request, three statements, each one autocommit round trip:

1. the API key by its SHA-256 (its use recorded at most once a minute per process, as kassa),
   joined to the account's receiving address on the chain;
2. which of the candidate amounts no open quote of that address and token holds (the 16
   smallest first; after a lost race 32 drawn at random, as kassa's ``free_units``), read by
   the unique ``open_key`` index;
3. the session, its quote, its audit entry, the ``payment_session.created`` event (the session
   as the API shows it) and its ``webhooks.fan_out`` job, as one statement: the quote with
   ``ON CONFLICT (open_key) DO NOTHING`` and the rest only if it went in. A quote that lost
   its amount to a concurrent creation goes back to step 2.

It leaves out what the benchmark never asks for: other chains and tokens (one quote),
validation beyond the price, the Idempotency-Key (the benchmark sends none).
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from kassa.core.ids import new_id
from payins_ceiling import Ceiling, _answer, _ts

CHAIN, CHAIN_ID, SYMBOL, DECIMALS = "local", 31337, "USDC", 6
EXPIRY = timedelta(hours=1)
SMALLEST, PROBE = 16, 32
LOOKUP = (
    "SELECT k.id, k.account_id, k.livemode, k.scopes, r.address FROM api_keys k "
    "JOIN chain_receiving_addresses r ON r.account_id = k.account_id AND r.livemode = k.livemode "
    "AND r.chain = $2 WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
)
TOUCH = "UPDATE api_keys SET last_used_at = $2 WHERE id = $1"
TAKEN = "SELECT units FROM payment_session_quotes WHERE open_key = ANY($1::text[])"
# $1 session, $2 account, $3 livemode, $4 cents, $5 expires, $6 at, $7 quote id, $8 token,
# $9 address, $10 units, $11 open key, $12 audit id, $13 actor, $14 audit after, $15 request
# id, $16 ip, $17 agent, $18 event id, $19 data, $20 job id.
CREATE = f"""
WITH q AS (
  INSERT INTO payment_session_quotes (id, session_id, chain, chain_id, token_symbol,
    token_address, decimals, to_address, units, open_key)
  VALUES ($7, $1, '{CHAIN}', {CHAIN_ID}, '{SYMBOL}', $8, {DECIMALS}, $9, $10, $11)
  ON CONFLICT (open_key) DO NOTHING RETURNING 1),
s AS (
  INSERT INTO payment_sessions (id, account_id, livemode, status, outcome, amount, currency,
    description, metadata, success_url, cancel_url, reported_tx_hash, tx_hash, expires_at,
    confirmed_at, created_at, updated_at)
  SELECT $1, $2, $3, 'pending', NULL, $4, 'USD', NULL, '{{}}', NULL, NULL, NULL, NULL, $5,
    NULL, $6, $6 WHERE EXISTS (SELECT 1 FROM q)),
a AS (
  INSERT INTO audit_log (id, account_id, actor, action, object_type, object_id, before, after,
    request_id, ip, user_agent, created_at)
  SELECT $12, $2, $13, 'payment_session.create', 'payment_session', $1, 'null', $14, $15,
    $16, $17, $6 WHERE EXISTS (SELECT 1 FROM q)),
e AS (
  INSERT INTO events (id, account_id, livemode, type, data, request_id, created_at)
  SELECT $18, $2, $3, 'payment_session.created', $19, $15, $6 WHERE EXISTS (SELECT 1 FROM q)),
j AS (
  INSERT INTO jobs (id, name, args, status, attempts, max_attempts, run_at, locked_by,
    lease_until, last_error, created_at, updated_at, finished_at)
  SELECT $20, 'webhooks.fan_out', jsonb_build_object('event_id', $18::text), 'queued', 0, 10,
    $6, NULL, NULL, NULL, $6, $6, NULL WHERE EXISTS (SELECT 1 FROM q))
SELECT EXISTS (SELECT 1 FROM q)
"""


def _text(units: int) -> str:
    digits = str(units).rjust(DECIMALS + 1, "0")
    return f"{digits[:-DECIMALS]}.{digits[-DECIMALS:]}"


class SessionsCeiling(Ceiling):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/payment_sessions":
            await super().__call__(scope, receive, send)  # lifespan, /health, 404
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request_id = new_id("req")
        status, body = await self.create_session(dict(scope["headers"]), b"".join(chunks), scope)
        await _answer(send, status, body, request_id)

    async def create_session(
        self, headers: dict[bytes, bytes], raw: bytes, scope: Any
    ) -> tuple[int, bytes]:
        assert self.pool is not None
        scheme, _, secret = headers.get(b"authorization", b"").decode().partition(" ")
        if scheme.lower() != "bearer" or not secret.startswith(("sk_test_", "sk_live_")):
            return 401, b'{"code":"authentication_required"}'
        try:
            price = orjson.loads(raw)["amount"]
            whole, _, cents = str(price["value"]).partition(".")
            minor = int(whole) * 100 + int(cents.ljust(2, "0")[:2])
            assert price["currency"] == "USD" and minor > 0
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AssertionError):
            return 400, b'{"code":"invalid_request"}'
        request_id = new_id("req")
        ip = scope["client"][0] if scope.get("client") else None
        agent = headers.get(b"user-agent", b"").decode()[:400] or None
        async with self.pool.acquire() as conn:
            key = await conn.fetchrow(LOOKUP, hashlib.sha256(secret.encode()).hexdigest(), CHAIN)
            if key is None:
                return 401, b'{"code":"invalid_api_key"}'
            if "write" not in orjson.loads(key["scopes"]):
                return 403, b'{"code":"insufficient_scope"}'
            now = datetime.now(UTC)
            if time.time() - self.touched.get(key["id"], 0.0) >= 60:
                self.touched[key["id"]] = time.time()
                await conn.execute(TOUCH, key["id"], now)
            address = key["address"]
            base = minor * 10 ** (DECIMALS - 2)
            end = base + 10 ** (DECIMALS - 2)
            prefix = f"{CHAIN}:{self.token}:{address}:"
            session_id = new_id("ps")
            for attempt in range(20):
                if attempt == 0:
                    candidates = list(range(base, base + SMALLEST))
                else:
                    candidates = sorted(random.sample(range(base, end), PROBE))
                taken = {
                    int(u) for (u,) in await conn.fetch(TAKEN, [f"{prefix}{u}" for u in candidates])
                }
                free = [u for u in candidates if u not in taken]
                if not free:
                    continue
                units = free[0]
                quote = {
                    "chain": CHAIN,
                    "chain_id": CHAIN_ID,
                    "token": SYMBOL,
                    "token_address": self.token,
                    "decimals": DECIMALS,
                    "to_address": address,
                    "amount": str(units),
                    "amount_text": _text(units),
                    "payment_link": f"ethereum:{self.token}@{CHAIN_ID}/transfer"
                    f"?address={address}&uint256={units}",
                }
                view = {
                    "id": session_id,
                    "object": "payment_session",
                    "status": "pending",
                    "outcome": None,
                    "amount": {"value": f"{minor // 100}.{minor % 100:02d}", "currency": "USD"},
                    "description": None,
                    "metadata": {},
                    "success_url": None,
                    "cancel_url": None,
                    "checkout_url": None,
                    "quotes": [quote],
                    "transfers": [],
                    "tx_hash": None,
                    "livemode": key["livemode"],
                    "expires_at": _ts(now + EXPIRY),
                    "confirmed_at": None,
                    "created_at": _ts(now),
                    "updated_at": _ts(now),
                }
                data = orjson.dumps(view).decode()
                after = orjson.dumps({"amount": price, "quotes": 1}).decode()
                inserted = await conn.fetchval(
                    CREATE,
                    session_id,
                    key["account_id"],
                    key["livemode"],
                    minor,
                    now + EXPIRY,
                    now,
                    new_id("psq"),
                    self.token,
                    address,
                    str(units),
                    f"{prefix}{units}",
                    new_id("aud"),
                    f"api_key:{key['id']}",
                    after,
                    request_id,
                    ip,
                    agent,
                    new_id("evt"),
                    data,
                    new_id("job"),
                )
                if inserted:
                    view["checkout_url"] = f"http://127.0.0.1/checkout/{session_id}"
                    return 201, orjson.dumps(view)
        return 409, b'{"code":"session_amounts_exhausted"}'


def sessions_app() -> SessionsCeiling:
    """uvicorn's factory (one instance per worker process); the token from the environment."""
    import os

    return SessionsCeiling(os.environ["BENCH_TOKEN"].lower())
