"""Commissions and payouts (the transactions of payout batches) as CSV, for accounting.

Rows come in pages of ``PAGE`` by id (ids sort by creation time), each page read in its own
short transaction, so an export of any range streams in constant memory and never holds a
transaction open while the client reads. Amounts are decimal strings in the currency's
minor-unit exponent beside a currency column, never floats; every text cell is CSV-injection
safe (core.csv_cells). An affiliate viewer gets only its own rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core.csv_cells import csv_lines
from kassa.core.db import transaction
from kassa.core.money import Money
from kassa.payouts.access import Viewer
from kassa.payouts.models import Affiliate, Commission, PayoutBatch, PayoutTransaction

Ts = TypeVarTuple("Ts")
PAGE = 1000
COMMISSION_STATUSES = ("pending", "approved", "queued", "paid", "failed", "cancelled")
PAYOUT_STATUSES = ("pending", "processing", "completed", "failed", "cancelled")

COMMISSION_COLUMNS = (
    "commission_id",
    "created_at",
    "affiliate_id",
    "affiliate_code",
    "kind",
    "subscription_id",
    "subscription_event_id",
    "rate_bps",
    "currency",
    "base_amount",
    "amount",
    "status",
    "approved_at",
    "paid_at",
    "payout_batch_id",
    "payout_id",
    "livemode",
)
PAYOUT_COLUMNS = (
    "payout_id",
    "created_at",
    "payout_batch_id",
    "batch_number",
    "provider",
    "affiliate_id",
    "affiliate_code",
    "payee_id",
    "provider_payee_id",
    "currency",
    "amount",
    "commission_count",
    "status",
    "attempts",
    "provider_transaction_id",
    "error_code",
    "completed_at",
    "livemode",
)


@dataclass(frozen=True, slots=True)
class Filters:
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    affiliate_id: str | None = None
    status: str | None = None


def _time(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _narrowed(
    table: type[Commission] | type[PayoutTransaction], viewer: Viewer, filters: Filters
) -> list[ColumnElement[bool]]:
    """The viewer's own rows (an affiliate sees its own only), narrowed by the filters."""
    found: list[ColumnElement[bool]] = []
    if viewer.affiliate_id is not None:
        found.append(table.affiliate_id == viewer.affiliate_id)
    if filters.affiliate_id:
        found.append(table.affiliate_id == filters.affiliate_id)
    if filters.status:
        found.append(table.status == filters.status)
    if filters.created_gte:
        found.append(table.created_at >= filters.created_gte)
    if filters.created_lt:
        found.append(table.created_at < filters.created_lt)
    return found


def commissions_query(viewer: Viewer, filters: Filters) -> Select[Commission, str]:
    query = (
        select(Commission, Affiliate.code)
        .join(Affiliate, Affiliate.id == Commission.affiliate_id)
        .where(Commission.account_id == viewer.account_id, Commission.livemode == viewer.livemode)
    )
    return query.where(*_narrowed(Commission, viewer, filters))


def commission_row(c: Commission, code: str) -> tuple[str, ...]:
    return (
        c.id,
        _time(c.created_at),
        c.affiliate_id,
        code,
        c.kind,
        c.subscription_id,
        c.source_event_id,
        str(c.rate_bps),
        c.currency,
        Money(c.base_amount, c.currency).to_decimal_string(),
        Money(c.amount, c.currency).to_decimal_string(),
        c.status,
        _time(c.approved_at),
        _time(c.paid_at),
        c.batch_id or "",
        c.transaction_id or "",
        _bool(c.livemode),
    )


def payouts_query(viewer: Viewer, filters: Filters) -> Select[PayoutTransaction, PayoutBatch, str]:
    query = (
        select(PayoutTransaction, PayoutBatch, Affiliate.code)
        .join(PayoutBatch, PayoutBatch.id == PayoutTransaction.batch_id)
        .join(Affiliate, Affiliate.id == PayoutTransaction.affiliate_id)
        .where(
            PayoutBatch.account_id == viewer.account_id,
            PayoutBatch.livemode == viewer.livemode,
        )
    )
    return query.where(*_narrowed(PayoutTransaction, viewer, filters))


def payout_row(t: PayoutTransaction, batch: PayoutBatch, code: str) -> tuple[str, ...]:
    return (
        t.id,
        _time(t.created_at),
        batch.id,
        batch.number,
        batch.provider,
        t.affiliate_id,
        code,
        t.payee_id,
        t.provider_payee_id,
        t.currency,
        Money(t.amount, t.currency).to_decimal_string(),
        str(t.commission_count),
        t.status,
        str(t.attempts),
        t.provider_transaction_id or "",
        t.error_code or "",
        _time(t.completed_at),
        _bool(batch.livemode),
    )


async def _pages(
    sessions: async_sessionmaker[AsyncSession], query: Select[*Ts], id_column: Any
) -> AsyncIterator[Sequence[Row[*Ts]]]:
    after: str | None = None
    while True:
        page = query.order_by(id_column).limit(PAGE)
        if after is not None:
            page = page.where(id_column > after)
        async with transaction(sessions) as session:
            rows = (await session.execute(page)).all()
        if not rows:
            return
        yield rows
        if len(rows) < PAGE:
            return
        after = _first_id(rows[-1])


async def commissions_csv(
    sessions: async_sessionmaker[AsyncSession], viewer: Viewer, filters: Filters
) -> AsyncIterator[str]:
    yield csv_lines([COMMISSION_COLUMNS])
    async for rows in _pages(sessions, commissions_query(viewer, filters), Commission.id):
        yield csv_lines(commission_row(c, code) for c, code in rows)


async def payouts_csv(
    sessions: async_sessionmaker[AsyncSession], viewer: Viewer, filters: Filters
) -> AsyncIterator[str]:
    yield csv_lines([PAYOUT_COLUMNS])
    async for rows in _pages(sessions, payouts_query(viewer, filters), PayoutTransaction.id):
        yield csv_lines(payout_row(t, b, code) for t, b, code in rows)


def _first_id(row: Any) -> str:
    """The id of a row's first entity: where the next page starts."""
    return str(row[0].id)
