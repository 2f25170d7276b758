"""FastAPI dependencies: the request's database session, the caller, scope checks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.api_keys import authenticate_api_key
from kassa.accounts.principal import Principal
from kassa.accounts.users import authenticate_token
from kassa.api.state import AppState
from kassa.core import context
from kassa.core.errors import AuthenticationFailed, RateLimited


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.kassa
    return state


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed after the route returns, before the response
    is sent, so a client never sees a success that was not stored."""
    async with app_state(request).sessions() as session:
        request.state.db_session = session  # the idempotency hook stores its response here
        yield session
        if session.in_transaction():
            await session.commit()


async def _app_state(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread.
    return app_state(request)


Session = Annotated[AsyncSession, Depends(db_session, scope="function")]
State = Annotated[AppState, Depends(_app_state)]


def _credentials(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:  # Stripe-style: the key as the Basic user name, no password
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthenticationFailed("Malformed Basic credentials.") from exc
        return decoded.split(":", 1)[0]
    raise AuthenticationFailed(
        "Send your API key as 'Authorization: Bearer sk_test_...'.", code="authentication_required"
    )


async def authenticate(request: Request, session: Session) -> Principal:
    # The state is read here, not injected: every dependency level costs on every request.
    state = app_state(request)
    token = _credentials(request)
    if token.startswith("sk_"):
        principal = await authenticate_api_key(session, token)
    else:
        principal = authenticate_token(token, key=state.token_key)
    rate = state.settings.rate_limit_per_key
    if rate > 0:
        wait = await state.limiter.hit(
            f"actor:{principal.actor}", rate, state.settings.rate_limit_burst
        )
        if wait:
            raise RateLimited(wait, "Too many requests for this API key.")
    context.update(actor=principal.actor)
    request.state.principal = principal  # scopes the request's Idempotency-Key
    return principal


def requires(scope: str) -> Callable[[Request, AsyncSession], Awaitable[Principal]]:
    # Authenticates itself rather than depending on ``authenticate``: one dependency level
    # less on every request.
    async def check(request: Request, session: Session) -> Principal:
        principal = await authenticate(request, session)
        principal.require(scope)
        return principal

    return check


async def _admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    principal.require_role("admin")
    return principal


ReadAccess = Annotated[Principal, Depends(requires("read"))]
WriteAccess = Annotated[Principal, Depends(requires("write"))]
RefundAccess = Annotated[Principal, Depends(requires("refund"))]
AdminAccess = Annotated[Principal, Depends(_admin)]
