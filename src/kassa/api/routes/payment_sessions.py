"""Stablecoin payment sessions and the receiving addresses they are paid to."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Query
from pydantic import Field
from sqlalchemy import select

from kassa.api.deps import ReadAccess, Session, State, WriteAccess
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes._payins_common import AmountIn, Guarded, WithMetadata
from kassa.api.state import AppState
from kassa.chain.config import chains_of
from kassa.core.errors import InvalidRequest
from kassa.payins.sessions import addresses
from kassa.payins.sessions.bind import report_transaction
from kassa.payins.sessions.create import NewSession, create_session
from kassa.payins.sessions.expire import expire_session
from kassa.payins.sessions.models import SESSION_STATUSES, PaymentSession
from kassa.payins.sessions.repository import (
    get_session,
    quotes_and_transfers,
    quotes_of,
    transfers_of,
)
from kassa.payins.sessions.schemas import (
    PaymentSessionOut,
    ReceivingAddressOut,
    SessionStatus,
)

router = v1_router(tags=["payment sessions"])
MAX_EXPIRY = 30 * 86400


def _shown(out: PaymentSessionOut, state: AppState) -> PaymentSessionOut:
    """The session with its checkout page's URL (under KASSA_PUBLIC_URL when set)."""
    url = f"{state.settings.base_url.rstrip('/')}/checkout/{out.id}"
    return out.model_copy(update={"checkout_url": url})


class PaymentSessionIn(WithMetadata):
    amount: AmountIn = Field(description="The price, in USD.")
    description: str | None = Field(None, max_length=1000)
    success_url: str | None = Field(None, max_length=2048, pattern=r"^https?://")
    cancel_url: str | None = Field(None, max_length=2048, pattern=r"^https?://")
    chains: list[str] | None = Field(
        None, max_length=20, description="Chain keys to accept (default: every configured one)."
    )
    tokens: list[str] | None = Field(
        None, max_length=20, description="Token symbols to accept, e.g. USDC (default: all)."
    )
    expires_in: int | None = Field(
        None,
        ge=60,
        le=MAX_EXPIRY,
        description="Seconds until it expires (default KASSA_PAYMENT_SESSION_EXPIRY_SECONDS).",
    )


@router.post(
    "/payment_sessions",
    status_code=201,
    response_model=PaymentSessionOut,
    responses=problems(409),
    summary="Create a stablecoin payment session",
)
async def create_payment_session(
    body: PaymentSessionIn, principal: WriteAccess, session: Session, state: State
) -> PaymentSessionOut:
    amount = body.amount.money()
    if amount.currency != "USD":
        raise InvalidRequest("Payment sessions are priced in USD.", param="amount.currency")
    if not amount.is_positive():
        raise InvalidRequest("The amount must be positive.", param="amount.value")
    settings = state.settings
    data = await create_session(
        session,
        NewSession(
            account_id=principal.require_account(),
            livemode=principal.livemode,
            amount=amount,
            description=body.description,
            metadata=body.metadata or {},
            success_url=body.success_url,
            cancel_url=body.cancel_url,
            chains=body.chains,
            tokens=body.tokens,
            expires_in=timedelta(
                seconds=body.expires_in or settings.payment_session_expiry_seconds
            ),
        ),
        chains_of(settings),
    )
    return _shown(PaymentSessionOut.model_validate(data), state)


@router.get(
    "/payment_sessions/{session_id}",
    response_model=PaymentSessionOut,
    summary="Retrieve a payment session",
)
async def retrieve_payment_session(
    session_id: str, principal: ReadAccess, session: Session, state: State
) -> PaymentSessionOut:
    row = await get_session(
        session, session_id, account_id=principal.require_account(), livemode=principal.livemode
    )
    out = PaymentSessionOut.of(
        row, await quotes_of(session, row.id), await transfers_of(session, row.id)
    )
    return _shown(out, state)


@router.get(
    "/payment_sessions",
    response_model=ListResponse[PaymentSessionOut],
    summary="List payment sessions, newest first",
)
async def list_payment_sessions(
    principal: ReadAccess,
    session: Session,
    state: State,
    page: Page,
    status: SessionStatus | None = Query(
        None, description=f"One of {', '.join(SESSION_STATUSES)}."
    ),
) -> ListResponse[PaymentSessionOut]:
    query = select(PaymentSession).where(
        PaymentSession.account_id == principal.require_account(),
        PaymentSession.livemode == principal.livemode,
    )
    if status:
        query = query.where(PaymentSession.status == status)
    rows, has_more = await fetch_page(session, query, PaymentSession.id, page)
    parts = await quotes_and_transfers(session, [r.id for r in rows])
    data = [_shown(PaymentSessionOut.of(r, *parts[r.id]), state) for r in rows]
    return ListResponse(data=data, has_more=has_more)


@router.post(
    "/payment_sessions/{session_id}/expire",
    response_model=PaymentSessionOut,
    summary="Expire a pending payment session now",
)
async def expire_payment_session(
    session_id: str, principal: WriteAccess, session: Session, state: State
) -> PaymentSessionOut:
    data = await expire_session(
        session,
        session_id,
        account_id=principal.require_account(),
        livemode=principal.livemode,
    )
    return _shown(PaymentSessionOut.model_validate(data), state)


class TransactionIn(Guarded):
    tx_hash: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="The paying transaction.")


@router.post(
    "/payment_sessions/{session_id}/transactions",
    response_model=PaymentSessionOut,
    responses=problems(409),
    summary="Report the transaction that pays a session",
)
async def report_session_transaction(
    session_id: str, body: TransactionIn, principal: WriteAccess, session: Session, state: State
) -> PaymentSessionOut:
    """Bound asynchronously: the session shows the transfer (and its outcome) once the
    binding job ran, usually within a second (payment_session.* events tell)."""
    row = await report_transaction(
        session,
        session_id,
        body.tx_hash,
        account_id=principal.require_account(),
        livemode=principal.livemode,
    )
    out = PaymentSessionOut.of(
        row, await quotes_of(session, row.id), await transfers_of(session, row.id)
    )
    return _shown(out, state)


class ReceivingAddressIn(Guarded):
    chain: str = Field(max_length=40, description="A configured chain's key, e.g. polygon.")
    address: str = Field(max_length=42, description="0x and 40 hex digits (EIP-55 if mixed case).")


@router.post(
    "/receiving_addresses",
    status_code=201,
    response_model=ReceivingAddressOut,
    responses=problems(409),
    summary="Add a receiving address",
)
async def create_receiving_address(
    body: ReceivingAddressIn, principal: WriteAccess, session: Session, state: State
) -> ReceivingAddressOut:
    row = await addresses.add_address(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        chain=body.chain,
        address=body.address,
        chains=chains_of(state.settings),
    )
    return ReceivingAddressOut.of(row)


@router.get(
    "/receiving_addresses",
    response_model=ListResponse[ReceivingAddressOut],
    summary="List receiving addresses",
)
async def list_receiving_addresses(
    principal: ReadAccess, session: Session
) -> ListResponse[ReceivingAddressOut]:
    rows = await addresses.list_addresses(
        session, account_id=principal.require_account(), livemode=principal.livemode
    )
    return ListResponse(data=[ReceivingAddressOut.of(r) for r in rows], has_more=False)


@router.delete(
    "/receiving_addresses/{address_id}",
    response_model=ReceivingAddressOut,
    summary="Remove a receiving address",
)
async def delete_receiving_address(
    address_id: str, principal: WriteAccess, session: Session
) -> ReceivingAddressOut:
    row = await addresses.remove_address(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        address_id=address_id,
    )
    return ReceivingAddressOut.of(row)
