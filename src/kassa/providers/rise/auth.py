"""Signing in to Rise with the company wallet (SIWE, EIP-4361) and keeping the JWT.

``GET /v2/auth/siwe?wallet=&riseid=`` gives the message Rise wants signed (with the nonce it
issued); kassa parses it and refuses to sign a message that is not for its own wallet or is
already expired, signs it (EIP-191), and ``POST /v2/auth/verify {message, sig, nonce}`` returns
the JWT. The token is kept until ``refresh_margin`` before its ``exp`` claim (read without
verifying: it is Rise's token, kassa only schedules the next sign-in by it; 24 h when it has
none), and one sign-in runs at a time however many calls wait for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import datetime, timedelta

import httpx

from kassa.core.clock import Clock, SystemClock
from kassa.providers.base import PermanentProviderError
from kassa.providers.errors import PROVIDER_AUTHENTICATION_FAILED
from kassa.providers.rise import siwe
from kassa.providers.rise.config import RiseConfig
from kassa.providers.rise.dialect import DIALECTS
from kassa.providers.rise.http import PROVIDER, call

log = logging.getLogger("kassa.providers.rise")
DEFAULT_TOKEN_LIFETIME = timedelta(hours=24)


def token_expiry(token: str, issued: datetime) -> datetime:
    """The JWT's ``exp`` (unverified: only used to plan the next sign-in)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=issued.tzinfo)
    except (IndexError, ValueError, KeyError, TypeError):
        return issued + DEFAULT_TOKEN_LIFETIME


def _refused(reason: str) -> PermanentProviderError:
    return PermanentProviderError(
        f"Rise's sign-in message was not signed: {reason}.",
        provider=PROVIDER,
        code=PROVIDER_AUTHENTICATION_FAILED.code,
    )


class SiweSession:
    def __init__(self, config: RiseConfig, http: httpx.AsyncClient, clock: Clock | None = None):
        self._config = config
        self._http = http
        self._clock = clock or SystemClock()
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self._lock = asyncio.Lock()
        self.sign_ins = 0

    def now(self) -> datetime:
        return self._clock.now()

    def _fresh(self) -> bool:
        if self._token is None or self._expires_at is None:
            return False
        margin = timedelta(seconds=self._config.refresh_margin_seconds)
        return self._clock.now() < self._expires_at - margin

    async def token(self) -> str:
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:
            if not self._fresh():
                await self._sign_in()
            assert self._token is not None
            return self._token

    async def invalidate(self, stale: str) -> None:
        """Rise refused ``stale``: forget it (unless another call already replaced it)."""
        async with self._lock:
            if self._token == stale:
                self._token = None

    async def sign_in(self) -> None:
        async with self._lock:
            await self._sign_in()

    async def _sign_in(self) -> None:
        cfg = self._config
        dialect = DIALECTS[cfg.api_version]
        ask = dialect.challenge(cfg.wallet_address, cfg.company_id)
        data = await call(self._http, ask.method, ask.path, params=ask.params)
        text = dialect.challenge_text(data)
        if not isinstance(text, str):
            raise _refused("Rise sent no message")
        try:
            message = siwe.parse(text)
        except siwe.SiweError as exc:
            raise _refused(f"it is not an EIP-4361 message ({exc})") from None
        now = self._clock.now()
        if message.address.lower() != cfg.wallet_address.lower():
            raise _refused("it names another wallet")
        expires = message.expires()
        if expires is not None and expires <= now:
            raise _refused("it has expired")
        signature = siwe.sign(text, cfg.private_key.get_secret_value())
        answer = dialect.verify(cfg.wallet_address, text, signature, message.nonce)
        result = await call(self._http, answer.method, answer.path, json=answer.json)
        token = dialect.token(result)
        if not isinstance(token, str) or not token:
            raise _refused("Rise returned no token")
        self._token = token
        self._expires_at = token_expiry(token, now)
        self.sign_ins += 1
        log.info(
            "signed in to Rise",
            extra={"wallet": cfg.wallet_address, "token_expires_at": self._expires_at.isoformat()},
        )
