"""Pure ASGI middleware: request ids and context, body-size limit, per-IP limit, metrics."""

from __future__ import annotations

import json
import logging
import re
import time
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.accounts.ratelimit import RateLimiter
from kassa.core import context
from kassa.core.ids import new_id
from kassa.core.metrics import http_latency, http_requests

log = logging.getLogger("kassa.http")


class CodedHTTPException(HTTPException):
    """An HTTPException with a problem ``code``; FastAPI re-raises these while reading bodies."""

    def __init__(self, status: int, detail: str, *, code: str) -> None:
        super().__init__(status, detail)
        self.code = code


_NUL = b"\\u0000"
_NUL_MESSAGE = "Text may not contain NUL characters (\\u0000)."
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_JSON_ONLY = (
    "Request bodies are JSON: send the header 'Content-Type: application/json' "
    "(with curl: --json '{...}', or -H 'Content-Type: application/json' -d '{...}')."
)


def _sends_non_json(scope: Scope, headers: dict[str, str]) -> bool:
    """A body that says it is not JSON (curl -d sends form encoding unless told otherwise)."""
    if scope.get("method") not in _WITH_BODY:
        return False
    length = headers.get("content-length", "")
    has_body = (length.isdigit() and int(length) > 0) or "transfer-encoding" in headers
    content_type = headers.get("content-type", "").lower()
    return has_body and "json" not in content_type


def _problem_bytes(status: int, code: str, detail: str) -> bytes:
    return json.dumps(
        {
            "type": f"urn:kassa:error:{code}",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": context.current().request_id,
        },
        separators=(",", ":"),
    ).encode()


async def _send_problem(
    send: Send,
    status: int,
    code: str,
    detail: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = _problem_bytes(status, code, detail)
    rid = (context.current().request_id or "").encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", rid),
    ]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers + (extra_headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


class KassaMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        limiter: RateLimiter,
        ip_rate: float,
        burst: float,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.limiter = limiter
        self.ip_rate = ip_rate
        self.burst = burst

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID_RE.match(given) else new_id("req")
        client = scope.get("client")
        ip = client[0] if client else None
        context.set_context(
            context.RequestContext(
                request_id=request_id, ip=ip, user_agent=headers.get("user-agent")
            )
        )
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if ip and self.ip_rate > 0:
                wait = await self.limiter.hit(f"ip:{ip}", self.ip_rate, self.burst)
                if wait:
                    status_holder["status"] = 429
                    await _send_problem(
                        send,
                        429,
                        "rate_limited",
                        "Too many requests from this address.",
                        [(b"retry-after", str(wait).encode())],
                    )
                    return
            if b"%00" in scope.get("query_string", b""):
                status_holder["status"] = 400
                await _send_problem(send, 400, "invalid_character", _NUL_MESSAGE)
                return
            if _sends_non_json(scope, headers):
                status_holder["status"] = 415
                await _send_problem(send, 415, "unsupported_media_type", _JSON_ONLY)
                return
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body:
                status_holder["status"] = 413
                await _send_problem(
                    send,
                    413,
                    "payload_too_large",
                    f"Request bodies are limited to {self.max_body} bytes.",
                )
                return
            await self.app(scope, self._limited(receive), send_wrapper)
        finally:
            self._observe(scope, status_holder["status"], time.perf_counter() - started)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        tail = b""

        async def wrapped() -> Message:
            nonlocal seen, tail
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                seen += len(body)
                # Raised inside the app, so the problem-details handlers answer them.
                if seen > self.max_body:
                    raise HTTPException(
                        413, f"Request bodies are limited to {self.max_body} bytes."
                    )
                if _NUL in tail + body:  # PostgreSQL text cannot hold NUL: refuse it up front
                    raise CodedHTTPException(400, _NUL_MESSAGE, code="invalid_character")
                tail = body[-len(_NUL) :]
            return message

        return wrapped

    @staticmethod
    def _observe(scope: Scope, status: int, elapsed: float) -> None:
        route: Any = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        http_requests.labels(method, path, str(status)).inc()
        http_latency.labels(method, path).observe(elapsed)
        if status >= 500:
            log.warning(
                "request failed",
                extra={"method": method, "path": scope.get("path"), "status": status},
            )
