"""The honest ceiling of bench/webhooks_out.py: a bare asyncio + asyncpg + aiohttp worker.

It does the durable work of kassa's fan-out on kassa's schema and the jobs kassa's ``emit()``
enqueues (``webhooks.fan_out`` with ``{"event_id"}``), two statements per batch:

1. claim up to 16 due fan-out jobs (``FOR UPDATE SKIP LOCKED``, oldest first, counting an
   attempt and taking a lease), joined to their events and the account's enabled endpoints;
2. after signing (Standard Webhooks ``webhook-signature`` and the seed's
   ``x-webhook-signature``, the headers kassa sends) and POSTing them all concurrently with
   aiohttp: one statement (one transaction) that finishes the jobs it still holds and, only
   if it holds them all, inserts the deliveries and the attempts as multi-row INSERTs.

Per process ``--concurrency`` (32, kassa's default) POSTs at most: that many / 16 batch loops.
Left out, as the benchmark never needs them: retries and failing endpoints (every answer here
is 200), rotation's previous secrets, endpoint health stamps (kassa writes one a minute), lease
extension (a batch takes milliseconds; the lease is 60 s) and periodic heartbeats.

Run by bench/webhooks_out.py: ``python bench/webhooks_ceiling.py DATABASE_URL`` with
``KASSA_SECRET_KEY`` set; it stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fnmatch
import hashlib
import hmac
import os
import signal
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import asyncpg
import orjson
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kassa.core.ids import new_id  # stdlib only: the same ids, at the same cost

BATCH = 16
USER_AGENT = "kassa/0.1.0"
EXCERPT = 4096

CLAIM = """
WITH due AS MATERIALIZED (
  SELECT id FROM jobs
  WHERE status = 'queued' AND run_at <= now() AND name = 'webhooks.fan_out'
  ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED),
claimed AS (
  UPDATE jobs SET status = 'running', locked_by = $2, lease_until = now() + interval '60 s',
    attempts = jobs.attempts + 1, updated_at = now()
  FROM due WHERE jobs.id = due.id AND jobs.status = 'queued'
  RETURNING jobs.id, jobs.args ->> 'event_id' AS event_id)
SELECT c.id AS job_id, e.id, e.type, e.livemode, e.created_at, e.data::text AS data,
  w.id AS endpoint_id, w.account_id, w.url, w.secret_enc, w.enabled_events::text AS filter
FROM claimed c
JOIN events e ON e.id = c.event_id
LEFT JOIN webhook_endpoints w ON w.account_id = e.account_id AND w.livemode = e.livemode
  AND w.enabled AND w.deleted_at IS NULL
"""
RECORD = """
WITH fin AS (
  UPDATE jobs SET status = 'succeeded', finished_at = $1, updated_at = $1, locked_by = NULL,
    lease_until = NULL, last_error = NULL
  WHERE id = ANY($2::varchar[]) AND locked_by = $3 AND status = 'running'
  RETURNING 1),
held AS (SELECT count(*) = cardinality($2::varchar[]) AS all_held FROM fin),
d AS (
  INSERT INTO webhook_deliveries (id, event_id, endpoint_id, account_id, status, attempt_count,
    next_attempt_at, last_status_code, last_error, delivered_at, created_at, updated_at)
  SELECT d.id, d.event_id, d.endpoint_id, d.account_id, d.status, 1, NULL, d.code, d.error,
    d.delivered_at, $1, $1
  FROM unnest($4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[], $8::varchar[],
    $9::bigint[], $10::text[], $11::timestamptz[])
    AS d(id, event_id, endpoint_id, account_id, status, code, error, delivered_at), held
  WHERE held.all_held)
INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, event_id, trigger, url,
  request_headers, response_status, response_body, duration_ms, error, succeeded, created_at)
SELECT a.id, a.delivery_id, a.endpoint_id, a.event_id, 'scheduled', a.url, a.headers, a.code,
  a.body, a.ms, a.error, a.ok, $1
FROM unnest($12::varchar[], $4::varchar[], $6::varchar[], $5::varchar[], $13::varchar[],
  $14::jsonb[], $9::bigint[], $15::text[], $16::bigint[], $10::text[], $17::bool[])
  AS a(id, delivery_id, endpoint_id, event_id, url, headers, code, body, ms, error, ok), held
WHERE held.all_held
"""


@dataclass
class Post:
    job_id: str
    event_id: str
    endpoint_id: str
    account_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    answer: str | None = None
    error: str | None = None
    ms: int = 0


class CeilingWorker:
    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        self.loops = max(1, concurrency // BATCH)
        self.id = f"{socket.gethostname()}:{os.getpid()}:ceiling"
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"kassa.webhooks.signing-secrets",  # kassa's SecretBox for endpoint secrets
        ).derive(os.environ["KASSA_SECRET_KEY"].encode())
        self.fernet = Fernet(base64.urlsafe_b64encode(key))
        self.secrets: dict[str, tuple[bytes, bytes]] = {}  # by ciphertext: decrypted once
        self.stop = asyncio.Event()

    async def run(self) -> None:
        # No sorts: the claim must walk the due index in order, whatever the statistics say
        # right after a burst of enqueues (kassa's worker sets the same, per claim).
        pool = await asyncpg.create_pool(
            self.url,
            min_size=self.loops,
            max_size=self.loops + 1,
            init=lambda conn: conn.execute("SET enable_sort = off"),
        )
        connector = aiohttp.TCPConnector(limit=0)
        http = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=15),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        try:
            await pool.execute(
                "INSERT INTO workers (id, host, pid, started_at, heartbeat_at) "
                "VALUES ($1, $2, $3, now(), now())",
                self.id,
                socket.gethostname(),
                os.getpid(),
            )
            await asyncio.gather(*(self._loop(pool, http) for _ in range(self.loops)))
        finally:
            await http.close()
            await pool.close()

    async def _loop(self, pool: asyncpg.Pool, http: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            rows = await pool.fetch(CLAIM, BATCH, self.id)
            if not rows:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), 0.2)  # kassa's poll interval
                continue
            posts = self._sign(rows)
            await asyncio.gather(*(self._post(http, p) for p in posts))
            await self._record(pool, sorted({r["job_id"] for r in rows}), posts)

    def _secret(self, encrypted: str) -> tuple[bytes, bytes]:
        """(Standard Webhooks key, the seed's key) of an endpoint's stored secret."""
        found = self.secrets.get(encrypted)
        if found is None:
            secret = self.fernet.decrypt(encrypted.encode()).decode()
            found = (base64.b64decode(secret.removeprefix("whsec_")), secret.encode())
            self.secrets[encrypted] = found
        return found

    def _sign(self, rows: list[asyncpg.Record]) -> list[Post]:
        posts = []
        timestamp = str(int(time.time()))
        bodies: dict[str, bytes] = {}
        for r in rows:
            if r["endpoint_id"] is None:
                continue
            patterns = orjson.loads(r["filter"])
            if not any(fnmatch.fnmatchcase(r["type"], p) for p in patterns):
                continue
            body = bodies.get(r["id"])
            if body is None:  # the stored JSON as it is: no decode and re-encode
                head = orjson.dumps(
                    {
                        "id": r["id"],
                        "type": r["type"],
                        "created_at": r["created_at"].isoformat().replace("+00:00", "Z"),
                        "livemode": r["livemode"],
                    }
                )
                body = bodies[r["id"]] = head[:-1] + b',"data":' + r["data"].encode() + b"}"
            standard, seed = self._secret(r["secret_enc"])
            signed = f"{r['id']}.{timestamp}.".encode() + body
            signature = base64.b64encode(hmac.new(standard, signed, hashlib.sha256).digest())
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": r["id"],
                "webhook-timestamp": timestamp,
                "webhook-signature": "v1," + signature.decode(),
                "x-webhook-timestamp": timestamp,
                "x-webhook-signature": hmac.new(
                    seed, timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest(),
            }
            posts.append(
                Post(
                    r["job_id"], r["id"], r["endpoint_id"], r["account_id"], r["url"], body, headers
                )
            )
        return posts

    async def _post(self, http: aiohttp.ClientSession, p: Post) -> None:
        started = time.perf_counter()
        try:
            async with http.post(p.url, data=p.body, headers=p.headers) as resp:
                p.status = resp.status
                p.answer = (await resp.content.read(EXCERPT)).decode("utf-8", "replace")
                if not 200 <= resp.status < 300:
                    p.error = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            p.error = f"{type(exc).__name__}: {exc}"[:500]
        p.ms = int((time.perf_counter() - started) * 1000)

    async def _record(self, pool: asyncpg.Pool, job_ids: list[str], posts: list[Post]) -> None:
        now = datetime.now(UTC)
        ok = [p.status is not None and 200 <= p.status < 300 for p in posts]
        await pool.execute(
            RECORD,
            now,
            job_ids,
            self.id,
            [new_id("whd") for _ in posts],
            [p.event_id for p in posts],
            [p.endpoint_id for p in posts],
            [p.account_id for p in posts],
            ["succeeded" if good else "failed" for good in ok],
            [p.status for p in posts],
            [p.error for p in posts],
            [now if good else None for good in ok],
            [new_id("wha") for _ in posts],
            [p.url for p in posts],
            [orjson.dumps(p.headers).decode() for p in posts],
            [p.answer for p in posts],
            [p.ms for p in posts],
            ok,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--concurrency", type=int, default=32)
    opts = parser.parse_args()
    worker = CeilingWorker(opts.database_url, opts.concurrency)

    async def go() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop.set)
        await worker.run()

    asyncio.run(go())


if __name__ == "__main__":
    main()
