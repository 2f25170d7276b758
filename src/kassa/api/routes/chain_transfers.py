"""Token transfers to the account's receiving addresses: the ones no session claimed
(``matched=false``) are the merchant's to assign to a session by hand."""

from __future__ import annotations

from fastapi import Query
from pydantic import Field

from kassa.api.deps import ReadAccess, Session, State, WriteAccess
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes._payins_common import Guarded
from kassa.api.state import AppState
from kassa.chain.config import chains_of
from kassa.chain.models import ChainTransfer
from kassa.payins.sessions.schemas import TransferOut
from kassa.payins.sessions.unmatched import (
    account_transfers,
    assign_transfer,
    bound_sessions,
    get_transfer,
)

router = v1_router(tags=["payment sessions"])


def _decimals(state: AppState, transfer: ChainTransfer) -> int:
    chain = chains_of(state.settings).get(transfer.chain)
    token = chain.token_at(transfer.token_address) if chain else None
    return token.decimals if token else 0


@router.get(
    "/chain_transfers",
    response_model=ListResponse[TransferOut],
    summary="List token transfers to the account's receiving addresses, newest first",
)
async def list_chain_transfers(
    principal: ReadAccess,
    session: Session,
    state: State,
    page: Page,
    matched: bool | None = Query(
        None,
        description="false: only transfers no session claimed (assign them by hand); "
        "true: only those bound to a session.",
    ),
) -> ListResponse[TransferOut]:
    query = account_transfers(
        account_id=principal.require_account(), livemode=principal.livemode, matched=matched
    )
    rows, has_more = await fetch_page(session, query, ChainTransfer.id, page)
    bound = await bound_sessions(session, [r.id for r in rows])
    data = [TransferOut.of(r, _decimals(state, r), bound.get(r.id)) for r in rows]
    return ListResponse(data=data, has_more=has_more)


@router.get(
    "/chain_transfers/{transfer_id}",
    response_model=TransferOut,
    summary="Retrieve a chain transfer",
)
async def retrieve_chain_transfer(
    transfer_id: str, principal: ReadAccess, session: Session, state: State
) -> TransferOut:
    row = await get_transfer(
        session, transfer_id, account_id=principal.require_account(), livemode=principal.livemode
    )
    bound = await bound_sessions(session, [row.id])
    return TransferOut.of(row, _decimals(state, row), bound.get(row.id))


class AssignIn(Guarded):
    payment_session: str = Field(
        max_length=40, description="The session (ps_...) this transfer pays."
    )


@router.post(
    "/chain_transfers/{transfer_id}/assign",
    response_model=TransferOut,
    responses=problems(409),
    summary="Assign an unmatched transfer to a payment session",
)
async def assign_chain_transfer(
    transfer_id: str, body: AssignIn, principal: WriteAccess, session: Session, state: State
) -> TransferOut:
    """The session then settles as if the transfer had matched it: confirming, completed at
    the confirmation threshold, and an outcome (paid, paid_partial, paid_over, paid_late)
    from everything bound to it, with its payment_session.* events."""
    if session.in_transaction():
        await session.commit()  # our own guarded commit follows; hold nothing
    done = await assign_transfer(
        state.sessions,
        transfer_id,
        body.payment_session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
    )
    return TransferOut.of(done.transfer, done.decimals, done.session_id)
