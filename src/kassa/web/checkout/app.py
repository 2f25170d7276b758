"""The hosted checkout, an ASGI app the API mounts at ``/checkout``. Public: no API key; the
session id in the URL is the capability (as Stripe's checkout URLs), so each route shows or
touches that one session and nothing of its account but the merchant's name.

    GET  /checkout/{id}              the page (HTML; works without JavaScript)
    POST /checkout/{id}/transaction  the page's script reports the paying transaction hash
    GET  /checkout/{id}/events       live status, Server-Sent Events, for a bounded time
    GET  /checkout/static/...        the page's script, styles and ethers.js (vendored)

Rate limits per client IP (seed 002): 60 a minute for the page and its events, 10 a minute
for reported transactions (a wallet connection).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kassa.chain.config import Chain
from kassa.core import clock, context
from kassa.core.db import transaction
from kassa.core.errors import Conflict, KassaError, NotFound
from kassa.payins.sessions.bind import report_transaction
from kassa.web.checkout.page import render_limited, render_missing, render_page
from kassa.web.checkout.view import find_session, load_view, progress_of
from kassa.web.security import Limiter, PerMinute, SecurityHeaders

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PAGE_PER_MINUTE = 60
REPORTS_PER_MINUTE = 10
_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_NO_STORE = {"cache-control": "no-store"}


class CheckoutSettings:
    """What the checkout needs of the running app (kept apart from the API's state)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        chains: Callable[[], dict[str, Chain]],
        limiter: Limiter,
        poll_seconds: float = 1.0,
        stream_seconds: float = 120.0,
    ) -> None:
        self.sessions = sessions
        self.chains = chains
        self.page_limit = PerMinute(limiter, "checkout", PAGE_PER_MINUTE)
        self.report_limit = PerMinute(limiter, "checkout-report", REPORTS_PER_MINUTE)
        self.poll_seconds = poll_seconds
        self.stream_seconds = stream_seconds


def _problem(status: int, code: str, detail: str, headers: dict[str, str]) -> JSONResponse:
    """RFC 7807, the shape of every kassa error (api/errors.py), for the page's JSON calls."""
    body = {
        "type": f"urn:kassa:error:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": context.current().request_id,
    }
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def _limited_json(wait: int) -> JSONResponse:
    detail = "Too many requests from this address."
    return _problem(429, "rate_limited", detail, {"retry-after": str(wait)})


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return _problem(status, code, detail, _NO_STORE)


def create_checkout_app(config: CheckoutSettings) -> Starlette:
    async def page(request: Request) -> Response:
        wait = await config.page_limit.wait(request.scope)
        if wait:
            return HTMLResponse(
                render_limited(wait), status_code=429, headers={"retry-after": str(wait)}
            )
        async with config.sessions() as reads:
            view = await load_view(reads, request.path_params["session_id"], config.chains())
        if view is None:
            return HTMLResponse(render_missing(), status_code=404, headers=_NO_STORE)
        chosen = request.query_params.get("pay")  # other parameters (utm_...) are ignored
        html = render_page(view, chosen, clock.now())
        return HTMLResponse(html, headers=_NO_STORE)

    async def report(request: Request) -> Response:
        wait = await config.report_limit.wait(request.scope)
        if wait:
            return _limited_json(wait)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        tx_hash = body.get("tx_hash") if isinstance(body, dict) else None
        if not isinstance(tx_hash, str) or not _TX_HASH.match(tx_hash):
            return _error(400, "invalid_request", "tx_hash is 0x and 64 hexadecimal digits.")
        session_id = request.path_params["session_id"]
        try:
            async with transaction(config.sessions) as session:
                row = await find_session(session, session_id)
                if row is None:
                    return _error(404, "resource_missing", "No such payment session.")
                row = await report_transaction(
                    session, row.id, tx_hash, account_id=row.account_id, livemode=row.livemode
                )
                progress = await progress_of(session, row, config.chains())
        except KassaError as exc:
            status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
            return _error(status, exc.code, exc.message)
        return JSONResponse(progress.as_json(), headers=_NO_STORE)

    async def events(request: Request) -> Response:
        wait = await config.page_limit.wait(request.scope)
        if wait:
            return _limited_json(wait)
        session_id = request.path_params["session_id"]
        async with config.sessions() as reads:
            if await find_session(reads, session_id) is None:
                return _error(404, "resource_missing", "No such payment session.")
        return StreamingResponse(
            _stream(config, session_id),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    app = Starlette(
        routes=[
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            Route("/{session_id}", page, methods=["GET"]),
            Route("/{session_id}/transaction", report, methods=["POST"]),
            Route("/{session_id}/events", events, methods=["GET"]),
        ]
    )
    app.add_middleware(SecurityHeaders)
    return app


async def _stream(config: CheckoutSettings, session_id: str) -> AsyncIterator[str]:
    """The session's progress each time it changes, polled from the database; ends when
    the session is finished or after ``stream_seconds`` (the browser reconnects)."""
    yield "retry: 2000\n\n"
    sent: dict[str, object] | None = None
    deadline = time.monotonic() + config.stream_seconds
    quiet_since = time.monotonic()
    while True:
        async with config.sessions() as reads:
            row = await find_session(reads, session_id)
            if row is None:
                return
            progress = (await progress_of(reads, row, config.chains())).as_json()
        if progress != sent:
            sent, quiet_since = progress, time.monotonic()
            yield f"event: status\ndata: {json.dumps(progress)}\n\n"
        elif time.monotonic() - quiet_since > 15:
            quiet_since = time.monotonic()
            yield ": still here\n\n"  # keeps proxies from closing an idle stream
        if progress["finished"] or time.monotonic() >= deadline:
            return
        await asyncio.sleep(config.poll_seconds)
