"""Payout batches: /v1/payout_batches (preview what is due, create, list, retrieve, cancel),
and payouts, their transactions: /v1/payouts (list, export)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select

from kassa.accounts.principal import Principal
from kassa.api.deps import PayoutsRead, PayoutsWrite, Session, app_state
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes.commissions import CSV_RESPONSE, csv_stream
from kassa.api.times import TIME_FILTER, UtcTime
from kassa.core.errors import NotFound
from kassa.core.money import Money
from kassa.core.schemas import MoneyOut
from kassa.payouts import access, batching, exports
from kassa.payouts.models import PayoutBatch, PayoutTransaction
from kassa.payouts.schemas import (
    BatchStatus,
    DuePayeeOut,
    PayoutBatchOut,
    PayoutTransactionOut,
    PreviewOut,
    TransactionStatus,
)

router = v1_router(tags=["payout_batches"])


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    affiliate_ids: list[str] | None = Field(
        None, max_length=1000, description="Only these affiliates (default: everyone due)."
    )


def _due_out(item: batching.Due) -> DuePayeeOut:
    return DuePayeeOut(
        affiliate_id=item.affiliate_id,
        payee_id=item.payee.id if item.payee else None,
        amount=MoneyOut.of(Money(item.amount, item.currency)),
        commission_count=item.count,
        payable=item.payable,
        reasons=item.reasons,
    )


@router.get(
    "/payout_batches/preview",
    response_model=PreviewOut,
    summary="What a payout run would pay now, and what it holds back and why",
)
async def preview_payout_batches(
    principal: PayoutsRead, session: Session, request: Request
) -> PreviewOut:
    viewer = access.viewer(principal)
    items = await batching.due(
        session,
        account_id=viewer.account_id,
        livemode=viewer.livemode,
        default_minimum=app_state(request).settings.payment_minimum_threshold,
    )
    items = [i for i in items if viewer.owns(i.affiliate_id)]  # an affiliate: its own sums
    return PreviewOut(
        payable=[_due_out(i) for i in items if i.payable],
        held_back=[_due_out(i) for i in items if not i.payable],
    )


@router.post(
    "/payout_batches",
    status_code=201,
    response_model=ListResponse[PayoutBatchOut],
    summary="Create payout batches from the approved commissions due",
    responses=problems(404),
)
async def create_payout_batches(
    principal: PayoutsWrite, session: Session, request: Request, body: BatchCreate | None = None
) -> ListResponse[PayoutBatchOut]:
    access.require_payout_admin(principal, "execute payouts")
    settings = app_state(request).settings
    batches = await batching.create_batches(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        batch_size=settings.payment_batch_size,
        default_minimum=settings.payment_minimum_threshold,
        affiliate_ids=body.affiliate_ids if body else None,
    )
    transactions = await batching.transactions_of(session, [b.id for b in batches])
    return ListResponse(
        data=[
            PayoutBatchOut.of(b, [t for t in transactions if t.batch_id == b.id]) for b in batches
        ],
        has_more=False,
    )


@router.get(
    "/payout_batches",
    response_model=ListResponse[PayoutBatchOut],
    summary="List payout batches, newest first",
)
async def list_payout_batches(
    principal: PayoutsRead, session: Session, page: Page, status: BatchStatus | None = None
) -> ListResponse[PayoutBatchOut]:
    # A batch holds other payees' payments: an affiliate reads its own at /v1/payouts.
    access.refuse_affiliate(principal, "list payout batches (its payouts are at /v1/payouts)")
    query = select(PayoutBatch).where(
        PayoutBatch.account_id == principal.require_account(),
        PayoutBatch.livemode == principal.livemode,
    )
    if status:
        query = query.where(PayoutBatch.status == status)
    rows, has_more = await fetch_page(session, query, PayoutBatch.id, page)
    transactions = await batching.transactions_of(session, [b.id for b in rows])
    return ListResponse(
        data=[PayoutBatchOut.of(b, [t for t in transactions if t.batch_id == b.id]) for b in rows],
        has_more=has_more,
    )


@router.get(
    "/payout_batches/{batch_id}", response_model=PayoutBatchOut, summary="Retrieve a payout batch"
)
async def retrieve_payout_batch(
    batch_id: str, principal: PayoutsRead, session: Session
) -> PayoutBatchOut:
    _no_batch_for_affiliates(principal, batch_id)
    batch, transactions = await batching.get_batch(
        session, batch_id, account_id=principal.require_account(), livemode=principal.livemode
    )
    return PayoutBatchOut.of(batch, transactions)


@router.post(
    "/payout_batches/{batch_id}/cancel",
    response_model=PayoutBatchOut,
    summary="Cancel a payout batch not yet executed",
)
async def cancel_payout_batch(
    batch_id: str, principal: PayoutsWrite, session: Session
) -> PayoutBatchOut:
    _no_batch_for_affiliates(principal, batch_id)
    access.require_payout_admin(principal, "cancel payouts")
    batch, transactions = await batching.cancel_batch(
        session, batch_id, account_id=principal.require_account(), livemode=principal.livemode
    )
    return PayoutBatchOut.of(batch, transactions)


def _no_batch_for_affiliates(principal: Principal, batch_id: str) -> None:
    """No batch is an affiliate's own (it holds other payees' payments): missing for one."""
    if principal.affiliate_id is not None:
        raise NotFound(f"No such payout batch: {batch_id!r}.", param="id")


def _payouts_query(
    viewer: access.Viewer, affiliate_id: str | None, status: str | None, batch_id: str | None
) -> Select[PayoutTransaction]:
    query = (
        select(PayoutTransaction)
        .join(PayoutBatch, PayoutBatch.id == PayoutTransaction.batch_id)
        .where(
            PayoutBatch.account_id == viewer.account_id,
            PayoutBatch.livemode == viewer.livemode,
        )
    )
    if viewer.affiliate_id is not None:
        query = query.where(PayoutTransaction.affiliate_id == viewer.affiliate_id)
    if affiliate_id:
        query = query.where(PayoutTransaction.affiliate_id == affiliate_id)
    if status:
        query = query.where(PayoutTransaction.status == status)
    if batch_id:
        query = query.where(PayoutTransaction.batch_id == batch_id)
    return query


# Before any /payouts/{...}: "export" is not an id.
@router.get(
    "/payouts/export",
    response_class=StreamingResponse,
    responses=CSV_RESPONSE,
    summary="Export payouts (the transactions of payout batches) as CSV",
)
async def export_payouts(
    principal: PayoutsRead,
    request: Request,
    created_gte: Annotated[UtcTime | None, Query(description="Inclusive. " + TIME_FILTER)] = None,
    created_lt: Annotated[UtcTime | None, Query(description="Exclusive. " + TIME_FILTER)] = None,
    affiliate_id: str | None = None,
    status: TransactionStatus | None = None,
) -> StreamingResponse:
    filters = exports.Filters(created_gte, created_lt, affiliate_id, status)
    chunks = exports.payouts_csv(app_state(request).sessions, access.viewer(principal), filters)
    return csv_stream(chunks, "payouts")


@router.get(
    "/payouts",
    response_model=ListResponse[PayoutTransactionOut],
    summary="List payouts (one payee's payment in a batch), newest first",
)
async def list_payouts(
    principal: PayoutsRead,
    session: Session,
    page: Page,
    affiliate_id: str | None = None,
    status: TransactionStatus | None = None,
    payout_batch_id: str | None = None,
) -> ListResponse[PayoutTransactionOut]:
    query = _payouts_query(access.viewer(principal), affiliate_id, status, payout_batch_id)
    rows, has_more = await fetch_page(session, query, PayoutTransaction.id, page)
    return ListResponse(data=[PayoutTransactionOut.of(t) for t in rows], has_more=has_more)
