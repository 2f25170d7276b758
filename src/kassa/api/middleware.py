"""Pure ASGI middleware: request ids and context, per-IP limit, the request guard, metrics."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.accounts.ratelimit import RateLimiter
from kassa.api import request_guard
from kassa.api.errors import (
    INTERNAL_ERROR,
    INTERNAL_ERROR_DETAIL,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    UNSUPPORTED_MEDIA_TYPE,
    problem_body,
    status_of,
)
from kassa.api.request_guard import Refusal
from kassa.core import context
from kassa.core.digits import ascii_digits
from kassa.core.ids import new_id
from kassa.core.metrics import http_latency, http_requests

log = logging.getLogger("kassa.http")

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
    has_body = (ascii_digits(length) and int(length) > 0) or "transfer-encoding" in headers
    content_type = headers.get("content-type", "").lower()
    return has_body and "json" not in content_type


async def _send_problem(
    send: Send,  # one that adds X-Request-Id
    status: int,
    code: str,
    detail: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    *,
    param: str | None = None,
) -> None:
    document = problem_body(status, code, detail, param=param)
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers + (extra_headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body the middleware read, then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class KassaMiddleware:
    """The request id and context first; then every refusal that needs no route (per-IP rate,
    media type, size, and what no request may carry: ``request_guard``). The body is read whole
    (at most ``max_body_bytes``) and checked before anything acts on it. An error escaping the
    app is answered here, so a 500 carries its request id like every other response."""

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
        refusal = request_guard.check_headers(headers)
        given = headers.get("x-request-id", "")
        echo = _REQUEST_ID_RE.match(given) and not (refusal and refusal.param == "X-Request-Id")
        request_id = given if echo else new_id("req")
        client = scope.get("client")
        ip = client[0] if client else None
        context.set_context(
            context.RequestContext(
                request_id=request_id,
                ip=ip,
                user_agent=None if refusal else headers.get("user-agent"),
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

        async def refuse(refused: Refusal, extra: list[tuple[bytes, bytes]] | None = None) -> None:
            await _send_problem(
                send_wrapper,
                refused.status,
                refused.code,
                refused.detail,
                extra,
                param=refused.param,
            )

        try:
            if ip and self.ip_rate > 0:
                wait = await self.limiter.hit(f"ip:{ip}", self.ip_rate, self.burst)
                if wait:
                    limited = Refusal(RATE_LIMITED, "Too many requests from this address.")
                    await refuse(limited, [(b"retry-after", str(wait).encode())])
                    return
            refusal = (
                refusal
                or request_guard.check_path(scope.get("path", ""))
                or request_guard.check_query(scope.get("query_string", b""))
            )
            if refusal is None and _sends_non_json(scope, headers):
                refusal = Refusal(UNSUPPORTED_MEDIA_TYPE, _JSON_ONLY)
            if refusal is not None:
                await refuse(refusal)
                return
            body = await self._read_body(headers, receive)
            if body is None:  # the client left before sending all of it: nobody to answer
                return
            if isinstance(body, Refusal):
                await refuse(body)
                return
            await self._run_app(scope, _replay(body, receive), send_wrapper)
        finally:
            self._observe(scope, status_holder["status"], time.perf_counter() - started)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes | Refusal | None:
        too_large = Refusal(
            PAYLOAD_TOO_LARGE, f"Request bodies are limited to {self.max_body} bytes."
        )
        declared = headers.get("content-length")
        if declared is not None and ascii_digits(declared) and int(declared) > self.max_body:
            return too_large
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body:
                return too_large
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if not body:
            return body
        if "json" in headers.get("content-type", "").lower():
            return request_guard.check_json_body(body) or body
        return request_guard.check_other_body(body) or body

    async def _run_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:  # too late for an answer: let the server close the connection
                raise
            log.exception("unhandled error", exc_info=exc)
            await _send_problem(
                tracking, status_of(INTERNAL_ERROR.kind), INTERNAL_ERROR.code, INTERNAL_ERROR_DETAIL
            )

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
