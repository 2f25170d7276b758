"""PayPal: verification by PayPal's own ``POST /v1/notifications/verify-webhook-signature``
(``KASSA_PAYPAL_WEBHOOK_VERIFY=api``), for installs that would rather not check certificates
themselves. It costs a round trip to PayPal per delivery (and an OAuth token, cached until
shortly before it expires).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx
import orjson

from kassa.webhooks.inbound.errors import INVALID_SIGNATURE, PAYPAL_VERIFY_UNAVAILABLE
from kassa.webhooks.inbound.signatures.event import ParsedEvent
from kassa.webhooks.inbound.signatures.paypal import Transmission, parse

API_BASES = {"sandbox": "https://api-m.sandbox.paypal.com", "live": "https://api-m.paypal.com"}
VERIFY_PATH = "/v1/notifications/verify-webhook-signature"
TOKEN_PATH = "/v1/oauth2/token"


class PayPalVerifyClient:
    """One set of PayPal credentials' client for the verify API."""

    def __init__(
        self, api_base: str, client_id: str, client_secret: str, *, timeout: float = 10.0
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._auth = (client_id, client_secret)
        self.timeout = timeout
        self._token: tuple[str, float] | None = None  # (token, monotonic expiry)
        self._lock = asyncio.Lock()

    async def _bearer(self, http: httpx.AsyncClient) -> str:
        async with self._lock:
            if self._token and time.monotonic() < self._token[1]:
                return self._token[0]
            response = await http.post(
                self.api_base + TOKEN_PATH,
                data={"grant_type": "client_credentials"},
                auth=self._auth,
                headers={"Accept": "application/json"},
            )
            if response.status_code != 200:  # kassa's credentials, not the sender's fault
                raise PAYPAL_VERIFY_UNAVAILABLE(
                    "PayPal refused kassa's credentials for its verify-webhook-signature API."
                )
            found = response.json()
            lifetime = float(found.get("expires_in", 300))
            self._token = (str(found["access_token"]), time.monotonic() + lifetime * 0.9 - 30)
            return self._token[0]

    async def verify(self, body: bytes, headers: Mapping[str, str], webhook_id: str) -> bool:
        transmission = Transmission.of(headers)
        request = {
            "auth_algo": transmission.algorithm,
            "cert_url": transmission.cert_url,
            "transmission_id": transmission.id,
            "transmission_sig": transmission.signature,
            "transmission_time": transmission.time,
            "webhook_id": webhook_id,
            "webhook_event": orjson.loads(body),
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                token = await self._bearer(http)
                response = await http.post(
                    self.api_base + VERIFY_PATH,
                    content=orjson.dumps(request),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
        except httpx.HTTPError:
            raise PAYPAL_VERIFY_UNAVAILABLE() from None
        if response.status_code >= 500 or response.status_code == 401:
            raise PAYPAL_VERIFY_UNAVAILABLE()
        if response.status_code != 200:
            return False
        return bool(response.json().get("verification_status") == "SUCCESS")


async def verify_api(
    body: bytes, headers: Mapping[str, str], webhook_id: str, client: PayPalVerifyClient
) -> ParsedEvent:
    event = parse(body)  # a body that is not an event is refused before asking PayPal
    if not await client.verify(body, headers, webhook_id):
        raise INVALID_SIGNATURE("PayPal's verify-webhook-signature API did not confirm it.")
    return event
