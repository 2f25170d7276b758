"""What every public page answers with: a strict Content-Security-Policy and friends, and
per-IP rate limits (the API's limiter, so Redis shares them across processes when set)."""

from __future__ import annotations

from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts and styles only from kassa's own static files (no inline code at all); the page
# talks to kassa alone (the wallet talks to the chain); never framed (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class Limiter(Protocol):
    async def hit(self, key: str, rate: float, burst: float) -> int: ...


class SecurityHeaders:
    """Adds ``HEADERS`` to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


class PerMinute:
    """``per_minute`` requests per client IP, all of them allowed at once (seed 002's
    sliding minute), then one every 60/per_minute seconds. Returns the seconds to wait."""

    def __init__(self, limiter: Limiter, name: str, per_minute: int) -> None:
        self.limiter = limiter
        self.name = name
        self.rate = per_minute / 60.0
        self.burst = 60.0

    async def wait(self, scope: Scope) -> int:
        client = scope.get("client")
        if not client or self.rate <= 0:
            return 0
        return await self.limiter.hit(f"{self.name}:{client[0]}", self.rate, self.burst)
