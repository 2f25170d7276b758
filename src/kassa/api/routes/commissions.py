"""Subscription events and the commissions they earn: /v1/subscription_events,
/v1/commissions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from kassa.accounts.principal import Principal
from kassa.api.deps import PayoutsRead, PayoutsWrite, Session, app_state
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes._payins_common import AmountIn
from kassa.api.times import TIME_FILTER, UtcTime
from kassa.payouts import access, approval, commissions, exports
from kassa.payouts.models import Commission
from kassa.payouts.schemas import (
    ApprovedOut,
    CommissionOut,
    CommissionStatus,
    SubscriptionEventOut,
)

router = v1_router(tags=["commissions"])


class SubscriptionEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(
        min_length=1, max_length=255, description="Your id of the event: sent again, it is ignored."
    )
    type: Literal["new", "renewal", "upgrade", "cancellation", "refund", "chargeback"]
    affiliate_code: str = Field(min_length=1, max_length=64)
    subscription_id: str = Field(min_length=1, max_length=255)
    amount: AmountIn
    occurred_at: UtcTime
    tier: str | None = Field(None, max_length=64, description="The subscription's tier.")
    old_tier: str | None = Field(None, max_length=64, description="An upgrade's previous tier.")
    new_tier: str | None = Field(None, max_length=64, description="An upgrade's new tier.")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = Field(None, max_length=1000, description="These commissions, or:")
    affiliate_id: str | None = Field(
        None, min_length=1, description="Every pending one of this affiliate"
    )
    created_before: UtcTime | None = Field(None, description="... earned before this time.")


@router.post(
    "/subscription_events",
    status_code=201,
    response_model=SubscriptionEventOut,
    responses={
        200: {
            "model": SubscriptionEventOut,
            "description": "The event id was recorded before: what it did then.",
        }
    },
    summary="Record a subscription event (and the commission it earns)",
)
async def create_subscription_event(
    body: SubscriptionEventIn, principal: PayoutsWrite, session: Session, request: Request
) -> JSONResponse:
    access.refuse_affiliate(principal, "record subscription events")
    account_id = principal.require_account()
    if session.in_transaction():  # the use case commits on its own (SQLite: one writer)
        await session.commit()
    recorded = await commissions.record(
        app_state(request).sessions,
        commissions.NewEvent(
            account_id=account_id,
            livemode=principal.livemode,
            event_id=body.event_id,
            type=body.type,
            affiliate_code=body.affiliate_code,
            subscription_id=body.subscription_id,
            amount=body.amount.money(),
            occurred_at=body.occurred_at,
            tier=body.new_tier if body.type == "upgrade" else body.tier,
            old_tier=body.old_tier,
        ),
    )
    out = SubscriptionEventOut.of(recorded.event, recorded.commissions)
    return JSONResponse(out.json_value(), status_code=201 if recorded.created else 200)


@router.get(
    "/commissions",
    response_model=ListResponse[CommissionOut],
    summary="List commissions, newest first",
)
async def list_commissions(
    principal: PayoutsRead,
    session: Session,
    page: Page,
    affiliate_id: str | None = None,
    status: CommissionStatus | None = None,
) -> ListResponse[CommissionOut]:
    viewer = access.viewer(principal)
    query = commissions.list_query(
        account_id=viewer.account_id,
        livemode=viewer.livemode,
        affiliate_id=affiliate_id,
        status=status,
    )
    if viewer.affiliate_id is not None:  # an affiliate user: its own commissions only
        query = query.where(Commission.affiliate_id == viewer.affiliate_id)
    rows, has_more = await fetch_page(session, query, Commission.id, page)
    return ListResponse(data=[CommissionOut.of(c) for c in rows], has_more=has_more)


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV, one row per record (docs/payouts.md#exports), streamed.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def csv_stream(chunks: AsyncIterator[str], name: str) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# Before /commissions/{commission_id}: "export" is not an id.
@router.get(
    "/commissions/export",
    response_class=StreamingResponse,
    responses=CSV_RESPONSE,
    summary="Export commissions as CSV (date range, affiliate, status)",
)
async def export_commissions(
    principal: PayoutsRead,
    request: Request,
    created_gte: Annotated[UtcTime | None, Query(description="Inclusive. " + TIME_FILTER)] = None,
    created_lt: Annotated[UtcTime | None, Query(description="Exclusive. " + TIME_FILTER)] = None,
    affiliate_id: str | None = None,
    status: CommissionStatus | None = None,
) -> StreamingResponse:
    filters = exports.Filters(created_gte, created_lt, affiliate_id, status)
    chunks = exports.commissions_csv(app_state(request).sessions, access.viewer(principal), filters)
    return csv_stream(chunks, "commissions")


# Before /commissions/{commission_id}: "approve" is not an id (routing and Allow).
@router.post(
    "/commissions/approve",
    response_model=ApprovedOut,
    responses=problems(404),
    summary="Approve pending commissions in bulk (by ids, or by affiliate and age)",
)
async def approve_commissions(
    body: ApproveIn, principal: PayoutsWrite, session: Session
) -> ApprovedOut:
    access.refuse_affiliate(principal, "approve commissions")
    approved, skipped = await approval.approve_many(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        ids=body.ids,
        affiliate_id=body.affiliate_id,
        created_before=body.created_before,
    )
    return ApprovedOut(approved=approved, skipped=skipped)


@router.get(
    "/commissions/{commission_id}", response_model=CommissionOut, summary="Retrieve a commission"
)
async def retrieve_commission(
    commission_id: str, principal: PayoutsRead, session: Session
) -> CommissionOut:
    return CommissionOut.of(await _commission(session, principal, commission_id))


async def _commission(session: Session, principal: Principal, commission_id: str) -> Commission:
    """The commission, if the caller sees it (another affiliate's is missing)."""
    viewer = access.viewer(principal)
    commission = await approval.get_commission(
        session, commission_id, account_id=viewer.account_id, livemode=viewer.livemode
    )
    viewer.require_own(commission.affiliate_id, "commission", commission_id)
    return commission


@router.post(
    "/commissions/{commission_id}/approve",
    response_model=CommissionOut,
    summary="Approve a pending commission",
)
async def approve_commission(
    commission_id: str, principal: PayoutsWrite, session: Session
) -> CommissionOut:
    await _commission(session, principal, commission_id)
    access.refuse_affiliate(principal, "approve commissions")
    commission = await approval.approve_one(
        session, commission_id, account_id=principal.require_account(), livemode=principal.livemode
    )
    return CommissionOut.of(commission)
