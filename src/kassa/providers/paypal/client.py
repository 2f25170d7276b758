"""PayPal's REST API over httpx: the OAuth2 token, the headers every call carries, transport
failures onto kassa's error tree.

The token (client-credentials grant, ``POST /v1/oauth2/token`` with HTTP basic auth) is
cached until shortly before PayPal says it expires, fetched again once when an API call
answers 401 anyway (PayPal revoked it early), and fetched by one caller at a time. Every
write carries ``PayPal-Request-Id`` (kassa's idempotency key): PayPal answers a repeated one
with what the first request did, never doing it twice.

A timeout or a dropped connection *after* a write was sent is ambiguous (PayPal may have acted
on it; only the same call with the same request id can tell); one before anything was sent,
or on a read, is not.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from kassa.providers.base import PermanentProviderError, ProviderError, TransientProviderError
from kassa.providers.errors import PROVIDER_DOWN, TIMEOUT
from kassa.providers.paypal.failures import from_response

SANDBOX = "https://api-m.sandbox.paypal.com"
LIVE = "https://api-m.paypal.com"
REFRESH_MARGIN = 300.0  # seconds before expiry a token is replaced (at most a tenth of its life)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(slots=True)
class _Token:
    value: str
    renew_at: float  # on the client's clock


def _json(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        found = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


class PayPalClient:
    def __init__(
        self,
        *,
        provider: str,
        client_id: str,
        client_secret: str,
        api_base: str = SANDBOX,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.api_base = api_base.rstrip("/")
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._timeout = timeout
        self._clock = clock
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self.tokens_fetched = 0  # how many times a token was asked for (tests, metrics)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.api_base, timeout=self._timeout, transport=self._transport
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- the token --------------------------------------------------------------------------
    async def _fetch_token(self) -> _Token:
        started = self._clock()
        response = await self._exchange(
            "POST",
            "/v1/oauth2/token",
            write=False,  # asking for a token changes nothing at PayPal
            data={"grant_type": "client_credentials"},
            auth=self._auth,
            headers={"Accept": "application/json"},
        )
        body = _json(response)
        if response.status_code != 200 or not body.get("access_token"):
            raise from_response(self.provider, response.status_code, body, response.headers)
        self.tokens_fetched += 1
        lifetime = float(body.get("expires_in") or 0)
        margin = min(REFRESH_MARGIN, lifetime / 10)
        return _Token(str(body["access_token"]), started + lifetime - margin)

    async def _bearer(self, *, stale: str | None = None) -> str:
        async with self._token_lock:
            token = self._token
            fresh = token is not None and token.value != stale and self._clock() < token.renew_at
            if not fresh:
                token = self._token = await self._fetch_token()
            assert token is not None
            return token.value

    # -- calls ------------------------------------------------------------------------------
    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        write: bool,
        **options: Any,
    ) -> httpx.Response:
        try:
            return await self._client().request(method, path, **options)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientProviderError(
                f"PayPal could not be reached ({type(exc).__name__}) for {method} {path}.",
                provider=self.provider,
                code=PROVIDER_DOWN,
            ) from exc
        except httpx.TimeoutException as exc:
            raise TransientProviderError(
                f"PayPal did not answer {method} {path} in time.",
                provider=self.provider,
                code=TIMEOUT,
                ambiguous=write,
            ) from exc
        except httpx.TransportError as exc:  # the connection dropped mid-exchange
            raise TransientProviderError(
                f"The connection to PayPal failed during {method} {path} ({type(exc).__name__}).",
                provider=self.provider,
                code=PROVIDER_DOWN,
                ambiguous=write,
            ) from exc

    async def send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Answer:
        """One API call, its answer whatever the status (errors of transport raised)."""
        write = method != "GET"
        if write and not request_id:
            raise PermanentProviderError(
                "Every write to PayPal carries a PayPal-Request-Id.", provider=self.provider
            )
        token = await self._bearer()
        for attempt in range(2):
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Prefer": "return=representation",
            }
            if request_id:
                headers["PayPal-Request-Id"] = request_id
            response = await self._exchange(
                method,
                path,
                write=write,
                json=None if body is None else dict(body),
                headers=headers,
            )
            if response.status_code == 401 and attempt == 0:
                token = await self._bearer(stale=token)  # revoked before its time: once more
                continue
            break
        return Answer(response.status_code, _json(response), response.headers)

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        payment_id: str | None = None,
    ) -> dict[str, Any]:
        """One API call's JSON body; a refusal raised as kassa's error."""
        answer = await self.send(method, path, body=body, request_id=request_id)
        if not answer.ok:
            raise self.error(answer, payment_id=payment_id)
        return answer.body

    def error(self, answer: Answer, *, payment_id: str | None = None) -> ProviderError:
        return from_response(
            self.provider, answer.status, answer.body, answer.headers, payment_id=payment_id
        )
