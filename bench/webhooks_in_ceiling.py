"""The two ceilings of bench/webhooks_in.py, each a bare ASGI app on kassa's uvicorn stack.

- ``verify_app``: reads the body, verifies its ``Stripe-Signature`` (HMAC-SHA256 of
  ``t.body`` under the secret, constant-time compare, tolerance) and answers 200. It writes
  nothing: the most any webhook endpoint on this stack could do.
- ``insert_app``: the same, then one plain autocommit ``INSERT`` of the event into kassa's
  ``inbound_events`` (asyncpg, a pool of 10 per process, ``ON CONFLICT DO NOTHING`` on the
  unique key so a redelivery is no error), answered after it commits: durable acknowledgement
  done the obvious way, one commit per request.

Both read ``KASSA_STRIPE_WEBHOOK_SECRET``; ``insert_app`` reads ``BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from kassa.core.ids import new_id  # stdlib only: the same ids, at the same cost

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SECRET = os.environ.get("KASSA_STRIPE_WEBHOOK_SECRET", "").encode()
TOLERANCE = 300
INSERT = """
INSERT INTO inbound_events (id, provider, credentials_id, account_id, livemode, event_id,
  event_type, payload, status, attempts, received_at)
VALUES ($1, 'stripe', 'default', NULL, false, $2, $3, $4::jsonb, 'received', 0, $5)
ON CONFLICT (provider, credentials_id, event_id) DO NOTHING
"""
_OK = b'{"received":true}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"17")]


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _verified(scope: Scope, body: bytes) -> dict[str, Any] | None:
    header = next((v for k, v in scope["headers"] if k == b"stripe-signature"), b"").decode()
    items = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t = items.get("t", "")
    if not t.isdigit() or abs(time.time() - int(t)) > TOLERANCE:
        return None
    expected = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    given = [v for k, v in (p.split("=", 1) for p in header.split(",") if "=" in p) if k == "v1"]
    if not any(hmac.compare_digest(expected, g) for g in given):
        return None
    event: dict[str, Any] = orjson.loads(body)
    return event


async def _send(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, start: Callable[[], Awaitable[None]]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _nothing() -> None:
    return None


async def verify_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, _nothing)
        return
    body = await _body(receive)
    if scope["path"] == "/health":
        await _send(send, 200, _OK)
        return
    await _send(send, 200 if _verified(scope, body) else 400, _OK)


_pool: asyncpg.Pool | None = None


async def _start_pool() -> None:
    global _pool
    _pool = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=10, max_size=10)


async def insert_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, _start_pool)
        return
    body = await _body(receive)
    if scope["path"] == "/health":
        await _send(send, 200, _OK)
        return
    event = _verified(scope, body)
    if event is None:
        await _send(send, 400, _OK)
        return
    assert _pool is not None
    await _pool.execute(
        INSERT, new_id("iev"), event["id"], event["type"], body.decode(), datetime.now(UTC)
    )
    await _send(send, 200, _OK)
