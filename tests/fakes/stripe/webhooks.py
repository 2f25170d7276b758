"""Events sent back the way Stripe sends them: a JSON POST per event to each endpoint, with
``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>" keyed by whsec_...>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@dataclass
class Endpoint:
    url: str
    secret: str


@dataclass
class Delivery:
    event_id: str
    event_type: str
    url: str
    status: int | None  # None: the endpoint did not answer
    sent_at: float


@dataclass
class WebhookSender:
    endpoints: list[Endpoint] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    early: int = 0  # the next N events arrive before the API call that caused them returns
    twice: int = 0  # the next N events are sent twice
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    async def _post(self, endpoint: Endpoint, event: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        payload = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(payload, endpoint.secret),
        }
        status: int | None = None
        try:
            async with self._session.post(endpoint.url, data=payload, headers=headers) as answer:
                status = answer.status
                await answer.read()
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self.deliveries.append(
            Delivery(event["id"], event["type"], endpoint.url, status, time.time())
        )

    async def _deliver(self, event: dict[str, Any], copies: int) -> None:
        for _ in range(copies):
            for endpoint in list(self.endpoints):
                await self._post(endpoint, event)

    async def send(self, events: list[dict[str, Any]]) -> None:
        """Deliver ``events`` now (awaited) when early delivery is asked, else in the
        background like Stripe does, a moment after the API call answered."""
        for event in events:
            copies = 1
            if self.twice > 0:
                self.twice -= 1
                copies = 2
            if not self.endpoints:
                continue
            if self.early > 0:
                self.early -= 1
                await self._deliver(event, copies)
                continue
            task = asyncio.create_task(self._deliver(event, copies))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every background delivery is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.idle()
        if self._session is not None:
            await self._session.close()
            self._session = None
