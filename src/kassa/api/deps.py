"""FastAPI dependencies: the request's database session, the caller, scope checks."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.api_keys import authenticate_api_key
from kassa.accounts.principal import Principal
from kassa.accounts.refusals import record_refusal
from kassa.accounts.users import authenticate_token
from kassa.api.errors import AUTHENTICATION_REQUIRED
from kassa.api.state import AppState
from kassa.core import context
from kassa.core.errors import AuthenticationFailed, PermissionDenied, RateLimited

log = logging.getLogger("kassa.api")


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.kassa
    return state


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed after the route returns, before the response
    is sent, so a client never sees a success that was not stored."""
    async with app_state(request).sessions() as session:
        request.state.db_session = session  # the idempotency hook stores its response here
        try:
            yield session
        except PermissionDenied as refusal:
            await _audit_refusal(request, session, refusal)
            raise
        if session.in_transaction():
            await session.commit()


async def _audit_refusal(
    request: Request, session: AsyncSession, refusal: PermissionDenied
) -> None:
    """Every 403 leaves an audit entry, committed on its own: the request's changes are
    rolled back, the record that someone tried is not."""
    try:
        await session.rollback()
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        record_refusal(
            session,
            getattr(request.state, "principal", None),
            refusal,
            method=request.method,
            route=route,
        )
        await session.commit()
    except Exception as exc:  # the caller still gets its 403; the log keeps the trace
        log.error("could not audit a refusal: %s", type(exc).__name__, extra={"code": refusal.code})


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
    raise AUTHENTICATION_REQUIRED("Send your API key as 'Authorization: Bearer sk_test_...'.")


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


def requires(*scopes: str) -> Callable[[Request, AsyncSession], Awaitable[Principal]]:
    # Authenticates itself rather than depending on ``authenticate``: one dependency level
    # less on every request.
    async def check(request: Request, session: Session) -> Principal:
        principal = await authenticate(request, session)
        principal.require(*scopes)
        return principal

    return check


def payouts_access(scope: str) -> Callable[[Request, AsyncSession], Awaitable[Principal]]:
    """An affiliate user reaches the payout routes without scopes: each route shows it only
    its own affiliate's records (kassa.payouts.access); everyone else needs ``scope``."""

    async def check(request: Request, session: Session) -> Principal:
        principal = await authenticate(request, session)
        if principal.affiliate_id is None:
            principal.require(scope)
        return principal

    return check


async def _admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    principal.require_role("admin")
    return principal


ReadAccess = Annotated[Principal, Depends(requires("read"))]
KeyManagement = Annotated[Principal, Depends(requires("api_keys"))]
CredentialsManagement = Annotated[Principal, Depends(requires("provider_credentials"))]
# Where events will be sent to (a webhook endpoint's url and events) is reading them too.
ReadWriteAccess = Annotated[Principal, Depends(requires("read", "write"))]
WriteAccess = Annotated[Principal, Depends(requires("write"))]
RefundAccess = Annotated[Principal, Depends(requires("refund"))]
AdminAccess = Annotated[Principal, Depends(_admin)]
PayoutsRead = Annotated[Principal, Depends(payouts_access("read"))]
PayoutsWrite = Annotated[Principal, Depends(payouts_access("write"))]
