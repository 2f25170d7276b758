"""The ceilings bench/payins.py serves on kassa's own server stack (uvicorn, same settings).

``honest_app``: the least a crash-safe, idempotent create-and-confirm must do, written by hand
on asyncpg against kassa's schema, writing the rows kassa writes (same columns, same JSON
payloads, the stored response encrypted the same way). Per request, four statements, each one
autocommit round trip:

1. look up the API key by its hash (and record its use at most once a minute per process);
2. claim the Idempotency-Key (INSERT ... ON CONFLICT DO NOTHING);
3. commit the intent before the provider call: the payment in ``processing``, the events
   ``payment.created`` and ``payment.processing`` with a fan-out job each, two audit entries;
4. after the (in-process, mock) provider call, commit the result as one compare-and-set: the
   payment updated only if still ``processing``, then ``payment.succeeded`` with its job and
   audit entry, the attempt, and the response stored (AES-GCM) under the key.

It skips what a hand-written service could skip: an ORM, validation models, dependency
injection, middleware. It does not do what the benchmark never asks for (refusals beyond a
few checks, other routes, replays of a key in flight): those cost nothing on this path.

``bare_app``: answers the POST and writes nothing (the server stack's own ceiling).
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kassa.core.ids import new_id  # stdlib only: the same ids, at the same cost

Scope = dict[str, Any]
JSON_HEADERS = [(b"content-type", b"application/json")]
FAN_OUT = "webhooks.fan_out"
TTL = timedelta(hours=24)
TOUCH_EVERY = 60.0
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


# -- the bare endpoint ---------------------------------------------------------------------------
async def bare_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body like a real endpoint would
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"id":"pay_bare","object":"payment","status":"succeeded"}'
    await send({"type": "http.response.start", "status": 201, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


# -- the statements --------------------------------------------------------------------------
LOOKUP = (
    "SELECT id, account_id, livemode, scopes, last_used_at, revoked_at FROM api_keys "
    "WHERE key_hash = $1"
)
TOUCH = "UPDATE api_keys SET last_used_at = $2 WHERE id = $1"
CLAIM = (
    "INSERT INTO idempotency_keys (account_id, key, fingerprint, method, path, status, lock_id, "
    "response_status, response_headers, response_body, created_at, expires_at, locked_at) "
    "VALUES ($1, $2, $3, 'POST', $4, 'in_flight', $5, NULL, NULL, NULL, $6, $7, $6) "
    "ON CONFLICT (account_id, key) DO NOTHING RETURNING lock_id"
)
_EVENT = "INSERT INTO events (id, account_id, livemode, type, data, request_id, created_at)"
_JOB = (
    "INSERT INTO jobs (id, name, args, status, attempts, max_attempts, run_at, locked_by, "
    "lease_until, last_error, created_at, updated_at, finished_at)"
)
_AUDIT = (
    "INSERT INTO audit_log (id, account_id, actor, action, object_type, object_id, before, "
    "after, request_id, ip, user_agent, created_at)"
)
# $1 payment id, $2 account, $3 livemode, $4 currency, $5 amount, $6 token, $7 provider,
# $8 provider key, $9 request key, $10 created, $11 updated, $12 request id, $13 actor, $14 ip,
# $15 user agent; then per event (id, data, at) and job id, per audit entry (id, after, at).
INTENT = f"""
WITH p AS (
  INSERT INTO payments (id, account_id, livemode, status, currency, amount, amount_capturable,
    amount_captured, amount_refunded, amount_refund_pending, capture, customer_id,
    payment_method_id, payment_method_token, method_type, method_details, description,
    metadata, provider, provider_payment_id, idempotency_key, request_key, pending_operation,
    pending_amount, failure_code, failure_message, decline_code, canceled_at, created_at,
    updated_at)
  VALUES ($1, $2, $3, 'processing', $4, $5, 0, 0, 0, 0, true, NULL, NULL, $6, NULL, NULL, NULL,
    '{{}}', $7, NULL, $8, $9, 'authorize', NULL, NULL, NULL, NULL, NULL, $10, $11)),
e AS ({_EVENT} VALUES
  ($16, $2, $3, 'payment.created', $17, $12, $18),
  ($19, $2, $3, 'payment.processing', $20, $12, $21)),
j AS ({_JOB} VALUES
  ($22, '{FAN_OUT}', jsonb_build_object('event_id', $16::text), 'queued', 0, 10, $18, NULL,
   NULL, NULL, $18, $18, NULL),
  ($23, '{FAN_OUT}', jsonb_build_object('event_id', $19::text), 'queued', 0, 10, $21, NULL,
   NULL, NULL, $21, $21, NULL)),
a AS ({_AUDIT} VALUES
  ($24, $2, $13, 'payment.create', 'payment', $1, 'null', $25, $12, $14, $15, $26),
  ($27, $2, $13, 'payment.processing', 'payment', $1, '{{"status": "pending"}}', $28, $12,
   $14, $15, $29))
SELECT 1
"""
# $1 payment id, $2 account, $3 livemode, $4 captured, $5 provider payment id, $6 card,
# $7 updated, $8 request id, $9 actor, $10 ip, $11 user agent, $12 event id, $13 data,
# $14 job id, $15 audit id, $16 audit after, $17 attempt id, $18 provider key, $19 elapsed ms,
# $20 attempt at, $21 key, $22 lock id, $23 stored body.
RESULT = f"""
WITH upd AS (
  UPDATE payments SET status = 'succeeded', amount_captured = $4, provider_payment_id = $5,
    method_type = 'card', method_details = $6, pending_operation = NULL, updated_at = $7
  WHERE id = $1 AND status = 'processing' AND pending_operation = 'authorize'
  RETURNING id),
e AS ({_EVENT}
  SELECT $12, $2, $3, 'payment.succeeded', $13, $8, $7 WHERE EXISTS (SELECT 1 FROM upd)),
j AS ({_JOB}
  SELECT $14, '{FAN_OUT}', jsonb_build_object('event_id', $12::text), 'queued', 0, 10, $7,
    NULL, NULL, NULL, $7, $7, NULL WHERE EXISTS (SELECT 1 FROM upd)),
a AS ({_AUDIT}
  SELECT $15, $2, $9, 'payment.succeeded', 'payment', $1, '{{"status": "processing"}}', $16,
    $8, $10, $11, $7 WHERE EXISTS (SELECT 1 FROM upd)),
t AS (
  INSERT INTO payment_attempts (id, payment_id, operation, provider, idempotency_key, outcome,
    error_code, error_message, elapsed_ms, created_at)
  VALUES ($17, $1, 'authorize', 'mock', $18, 'succeeded', NULL, NULL, $19, $20)),
k AS (
  UPDATE idempotency_keys SET status = 'done', response_status = 201,
    response_headers = '{{"content-type": "application/json"}}', response_body = $23
  WHERE account_id = $2 AND key = $21 AND lock_id = $22 AND status = 'in_flight'
    AND EXISTS (SELECT 1 FROM upd)
  RETURNING 1)
SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM k)
"""


# -- the payment as the API shows it ------------------------------------------------------------
def _ts(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _minor(value: object, currency: str) -> int | None:
    places = 0 if currency in ZERO_DECIMAL else 2
    if not isinstance(value, str) or not value:
        return None
    whole, _, fraction = value.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > places:
        return None
    return int(whole + fraction.ljust(places, "0"))


def _money(minor: int, currency: str) -> dict[str, str]:
    places = 0 if currency in ZERO_DECIMAL else 2
    if not places:
        return {"value": str(minor), "currency": currency}
    digits = str(minor).rjust(places + 1, "0")
    return {"value": f"{digits[:-places]}.{digits[-places:]}", "currency": currency}


def _view(p: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    c = p["currency"]
    return {
        "id": p["id"],
        "object": "payment",
        "status": p["status"],
        "amount": _money(p["amount"], c),
        "amount_capturable": _money(0, c),
        "amount_captured": _money(p["amount_captured"], c),
        "amount_refunded": _money(0, c),
        "capture": True,
        "customer_id": None,
        "payment_method": p["method"],
        "description": None,
        "metadata": {},
        "provider": "mock",
        "provider_payment_id": p["provider_payment_id"],
        "failure_code": None,
        "failure_message": None,
        "decline_code": None,
        "attempts": attempts,
        "livemode": p["livemode"],
        "canceled_at": None,
        "created_at": _ts(p["created_at"]),
        "updated_at": _ts(p["updated_at"]),
    }


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


# -- the honest ceiling ------------------------------------------------------------------------
class Ceiling:
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        secret = os.environ["KASSA_SECRET_KEY"].encode()
        # kassa's BytesBox key for stored responses: kassa could read these rows back.
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"kassa.idempotency-responses.aes-gcm",
        ).derive(secret)
        self.aead = AESGCM(key)
        self.touched: dict[str, float] = {}

    async def start(self) -> None:
        size = int(os.environ.get("KASSA_DATABASE_POOL_SIZE", "10"))
        self.pool = await asyncpg.create_pool(
            os.environ["KASSA_DATABASE_URL"], min_size=1, max_size=size, reset=_no_reset
        )
        gc.collect()  # as kassa serve does (kassa.core.gctune)
        gc.freeze()
        _, middle, old = gc.get_threshold()
        gc.set_threshold(20_000, middle, old)

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        if scope["method"] == "GET" and scope["path"] == "/health":
            await _answer(send, 200, b'{"status":"ok"}', "req_health")
            return
        if scope["method"] != "POST" or scope["path"] != "/v1/payments":
            await _answer(send, 404, b'{"code":"not_found"}', "req_none")
            return
        headers = dict(scope["headers"])
        request_id = new_id("req")
        status, body = await self.create(headers, b"".join(chunks), scope, request_id)
        await _answer(send, status, body, request_id)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def create(
        self, headers: dict[bytes, bytes], raw: bytes, scope: Scope, request_id: str
    ) -> tuple[int, bytes]:
        assert self.pool is not None
        scheme, _, secret = headers.get(b"authorization", b"").decode().partition(" ")
        if scheme.lower() != "bearer" or not secret.startswith(("sk_test_", "sk_live_")):
            return 401, b'{"code":"authentication_required"}'
        idem_key = headers.get(b"idempotency-key", b"").decode()
        try:
            body = orjson.loads(raw)
            amount = body["amount"]
            currency = str(amount["currency"]).upper()
            minor = _minor(amount["value"], currency)
            token = str(body["payment_method"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return 400, b'{"code":"invalid_request"}'
        if minor is None or minor <= 0 or not idem_key:
            return 400, b'{"code":"invalid_request"}'
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        fingerprint = hashlib.sha256(b"POST /v1/payments?\n" + canonical).hexdigest()
        ip = scope["client"][0] if scope.get("client") else None
        agent = headers.get(b"user-agent", b"").decode()[:400] or None
        now = datetime.now(UTC)
        payment_id = new_id("pay")
        provider_key = f"{payment_id}/authorize"
        async with self.pool.acquire() as conn:
            key = await conn.fetchrow(LOOKUP, hashlib.sha256(secret.encode()).hexdigest())
            if key is None or key["revoked_at"] is not None:
                return 401, b'{"code":"invalid_api_key"}'
            if "write" not in orjson.loads(key["scopes"]):
                return 403, b'{"code":"insufficient_scope"}'
            if time.time() - self.touched.get(key["id"], 0.0) >= TOUCH_EVERY:
                self.touched[key["id"]] = time.time()
                await conn.execute(TOUCH, key["id"], now)
            account, livemode, actor = key["account_id"], key["livemode"], f"api_key:{key['id']}"
            lock_id = new_id("idem")
            claimed = await conn.fetchval(
                CLAIM, account, idem_key, fingerprint, "/v1/payments", lock_id, now, now + TTL
            )
            if claimed is None:
                # The benchmark never repeats a key; kassa would replay or answer 409 here.
                return 409, b'{"code":"idempotency_in_flight"}'
            payment = {
                "id": payment_id,
                "status": "pending",
                "currency": currency,
                "amount": minor,
                "amount_captured": 0,
                "method": None,
                "provider_payment_id": None,
                "livemode": livemode,
                "created_at": now,
                "updated_at": now,
            }
            created = _json(_view(payment, []))
            processing_at = datetime.now(UTC)
            payment.update(status="processing", updated_at=processing_at)
            processing = _json(_view(payment, []))
            await conn.fetchval(
                INTENT,
                payment_id,
                account,
                livemode,
                currency,
                minor,
                token,
                "mock",
                provider_key,
                idem_key,
                now,
                processing_at,
                request_id,
                actor,
                ip,
                agent,
                new_id("evt"),
                created,
                now,
                new_id("evt"),
                processing,
                processing_at,
                new_id("job"),
                new_id("job"),
                new_id("aud"),
                _json({"status": "pending", "amount": minor, "currency": currency}),
                now,
                new_id("aud"),
                _json({"status": "processing", "amount_captured": 0}),
                processing_at,
            )
        # The provider call: kassa's mock provider answers in-process too.
        started = time.perf_counter()
        charge = "mockpi_" + os.urandom(12).hex()
        card = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        done_at = datetime.now(UTC)
        attempt = {
            "operation": "authorize",
            "provider": "mock",
            "idempotency_key": provider_key,
            "outcome": "succeeded",
            "error_code": None,
            "error_message": None,
            "elapsed_ms": elapsed_ms,
            "created_at": _ts(done_at),
        }
        payment.update(
            status="succeeded",
            amount_captured=minor,
            method={"id": None, "type": "card", "card": card},
            provider_payment_id=charge,
            updated_at=done_at,
        )
        view = _json(_view(payment, [attempt]))
        response = view.encode()
        nonce = os.urandom(12)
        stored = b"g1" + nonce + self.aead.encrypt(nonce, response, None)
        updated, _kept = await self.pool.fetchrow(
            RESULT,
            payment_id,
            account,
            livemode,
            minor,
            charge,
            _json(card),
            done_at,
            request_id,
            actor,
            ip,
            agent,
            new_id("evt"),
            view,
            new_id("job"),
            new_id("aud"),
            _json({"status": "succeeded", "amount_captured": minor}),
            new_id("att"),
            provider_key,
            elapsed_ms,
            done_at,
            idem_key,
            lock_id,
            stored,
        )
        if not updated:  # settled meanwhile by reconciliation: never here
            return 409, b'{"code":"payment_settled_meanwhile"}'
        return 201, response


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing here changes a connection's session state, so nothing needs resetting when it
    goes back to the pool (asyncpg's default reset is a round trip per release)."""


async def _answer(send: Any, status: int, body: bytes, request_id: str) -> None:
    headers = [*JSON_HEADERS, (b"x-request-id", request_id.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def honest_app() -> Ceiling:
    """uvicorn's factory (one instance per worker process)."""
    return Ceiling()
