"""Disputes: /v1/disputes (read only: a dispute is what a provider reports; see
docs/payments.md "Disputes")."""

from __future__ import annotations

from sqlalchemy import select

from kassa.api.deps import ReadAccess, Session
from kassa.api.idempotency import v1_router
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.core.errors import InvalidRequest
from kassa.payins.disputes import STATUSES
from kassa.payins.models import Dispute
from kassa.payins.repository import get_owned
from kassa.payins.schemas import DisputeOut

router = v1_router(tags=["disputes"])


@router.get("/disputes/{dispute_id}", response_model=DisputeOut, summary="Retrieve a dispute")
async def retrieve_dispute(dispute_id: str, principal: ReadAccess, session: Session) -> DisputeOut:
    dispute = await get_owned(
        session,
        Dispute,
        dispute_id,
        account_id=principal.require_account(),
        livemode=principal.livemode,
    )
    return DisputeOut.of(dispute)


@router.get(
    "/disputes", response_model=ListResponse[DisputeOut], summary="List disputes, newest first"
)
async def list_disputes(
    principal: ReadAccess,
    session: Session,
    page: Page,
    payment_id: str | None = None,
    status: str | None = None,
) -> ListResponse[DisputeOut]:
    query = select(Dispute).where(
        Dispute.account_id == principal.require_account(), Dispute.livemode == principal.livemode
    )
    if payment_id:
        query = query.where(Dispute.payment_id == payment_id)
    if status:
        if status not in STATUSES:
            raise InvalidRequest(f"status is one of {', '.join(STATUSES)}.", param="status")
        query = query.where(Dispute.status == status)
    rows, has_more = await fetch_page(session, query, Dispute.id, page)
    return ListResponse(data=[DisputeOut.of(d) for d in rows], has_more=has_more)
