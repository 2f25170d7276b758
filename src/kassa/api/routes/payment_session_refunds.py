"""Refunds of stablecoin payment sessions: /v1/payment_sessions/{id}/refunds, and seed
002's ``POST /v1/refunds`` with ``{payment_id, amount}`` for a session id."""

from __future__ import annotations

from fastapi import Request
from pydantic import Field

from kassa.api.deps import ReadAccess, RefundAccess, Session, app_state
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse
from kassa.api.routes._payins_common import AmountIn, Guarded
from kassa.chain.config import chains_of
from kassa.core.errors import InvalidRequest
from kassa.core.money import Money
from kassa.payins.sessions.refund_schemas import SessionRefundOut
from kassa.payins.sessions.refunds import create_refund, refunds_of
from kassa.payins.sessions.repository import get_session

router = v1_router(tags=["payment sessions"])


class SessionRefundIn(Guarded):
    amount: AmountIn | None = Field(
        None, description="In USD; omitted: everything received that is not refunded yet."
    )
    to_address: str | None = Field(
        None, max_length=42, description="Where to send it (default: the address that paid)."
    )
    reason: str | None = Field(None, max_length=200)


class SeedRefundIn(SessionRefundIn):
    payment_id: str = Field(max_length=40, description="The payment session's id (ps_...).")


async def _refund(
    request: Request, session: Session, session_id: str, body: SessionRefundIn, who: RefundAccess
) -> SessionRefundOut:
    amount: Money | None = body.amount.money() if body.amount else None
    if session.in_transaction():
        await session.commit()  # our own guarded commit follows; hold nothing
    state = app_state(request)
    refund = await create_refund(
        state.sessions,
        account_id=who.require_account(),
        livemode=who.livemode,
        session_id=session_id,
        amount=amount,
        to_address=body.to_address,
        reason=body.reason,
        chains=chains_of(state.settings),
    )
    return SessionRefundOut.of(refund)


@router.post(
    "/payment_sessions/{session_id}/refunds",
    status_code=201,
    response_model=SessionRefundOut,
    responses=problems(409),
    summary="Refund all or part of a payment session from the hot wallet",
)
async def create_session_refund(
    session_id: str,
    principal: RefundAccess,
    session: Session,
    request: Request,
    body: SessionRefundIn | None = None,
) -> SessionRefundOut:
    """Decided now (status pending), sent by the worker: watch the refund's status or wait
    for ``payment_session.refunded``."""
    return await _refund(request, session, session_id, body or SessionRefundIn(), principal)


@router.post(
    "/refunds",
    status_code=201,
    response_model=SessionRefundOut,
    responses=problems(409),
    summary="Refund a payment session (seed 002's shape)",
)
async def create_seed_refund(
    body: SeedRefundIn, principal: RefundAccess, session: Session, request: Request
) -> SessionRefundOut:
    """``{"payment_id": "ps_...", "amount": {...}}``. Card payments are refunded with
    ``POST /v1/payments/{id}/refund``."""
    if not body.payment_id.startswith("ps_"):
        raise InvalidRequest(
            "POST /v1/refunds takes a payment session (ps_...); refund a card payment with "
            "POST /v1/payments/{id}/refund.",
            param="payment_id",
        )
    return await _refund(request, session, body.payment_id, body, principal)


@router.get(
    "/payment_sessions/{session_id}/refunds",
    response_model=ListResponse[SessionRefundOut],
    summary="List a payment session's refunds, oldest first",
)
async def list_session_refunds(
    session_id: str, principal: ReadAccess, session: Session
) -> ListResponse[SessionRefundOut]:
    row = await get_session(
        session, session_id, account_id=principal.require_account(), livemode=principal.livemode
    )
    rows = await refunds_of(session, row.id)
    return ListResponse(data=[SessionRefundOut.of(r) for r in rows], has_more=False)
