"""Approving commissions: pending -> approved, one by one, in bulk, or after a hold period.

Each approval is a guarded update (``status = 'pending'``), so two approvers never approve
one commission twice and a commission queued or cancelled meanwhile stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.errors import NotFound
from kassa.jobs import emit
from kassa.payins.errors import PARAMETER_MISSING
from kassa.payouts.affiliates import require_affiliates
from kassa.payouts.commissions import commission_json
from kassa.payouts.errors import COMMISSION_NOT_APPROVABLE
from kassa.payouts.models import Commission

BULK_LIMIT = 1000


async def get_commission(
    session: AsyncSession, commission_id: str, *, account_id: str, livemode: bool
) -> Commission:
    found = await session.scalar(
        select(Commission).where(
            Commission.id == commission_id,
            Commission.account_id == account_id,
            Commission.livemode == livemode,
        )
    )
    if found is None:
        raise NotFound(f"No such commission: {commission_id!r}.", param="id")
    return found


async def _approve(
    session: AsyncSession, ids: Sequence[str], *, account_id: str, actor: str | None
) -> list[str]:
    """Approve those of ``ids`` still pending; the ids approved now."""
    if not ids:
        return []
    now = clock.now()
    approved = list(
        (
            await session.scalars(
                update(Commission)
                .where(
                    Commission.id.in_(list(ids)),
                    Commission.account_id == account_id,
                    Commission.status == "pending",
                )
                .values(status="approved", approved_at=now, updated_at=now)
                .returning(Commission.id)
            )
        ).all()
    )
    rows = (
        await session.scalars(
            select(Commission)
            .where(Commission.id.in_(approved))
            .order_by(Commission.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    for commission in rows:
        audit.record(
            session,
            action="commission.approve",
            object_type="commission",
            object_id=commission.id,
            account_id=account_id,
            after={"status": "approved"},
            actor=actor,
        )
        emit(
            session,
            "commission.approved",
            commission_json(commission),
            account_id=account_id,
            livemode=commission.livemode,
        )
    return sorted(approved)


async def approve_one(
    session: AsyncSession, commission_id: str, *, account_id: str, livemode: bool
) -> Commission:
    commission = await get_commission(
        session, commission_id, account_id=account_id, livemode=livemode
    )
    if not await _approve(session, [commission.id], account_id=account_id, actor=None):
        raise COMMISSION_NOT_APPROVABLE(
            f"The commission is {commission.status}; only a pending one is approved."
        )
    return await get_commission(session, commission_id, account_id=account_id, livemode=livemode)


async def approve_many(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    ids: Sequence[str] | None = None,
    affiliate_id: str | None = None,
    created_before: datetime | None = None,
) -> tuple[list[str], list[str]]:
    """Approve the pending commissions named by ``ids``, or matching the filter (at most
    ``BULK_LIMIT`` at once). Returns (approved, skipped: named but not pending). A request
    naming nothing is refused: a forgotten filter must not approve every payout."""
    if ids is None and affiliate_id is None and created_before is None:
        raise PARAMETER_MISSING(
            "Name the commissions to approve: ids, affiliate_id or created_before "
            "(created_before set to now approves every pending one).",
            param="ids",
        )
    query = select(Commission.id).where(
        Commission.account_id == account_id,
        Commission.livemode == livemode,
    )
    if ids is not None:
        query = query.where(Commission.id.in_(list(ids)))
    else:
        query = query.where(Commission.status == "pending")
        # ``is not None``: a filter given is applied as given ("" matches no affiliate), so a
        # blank value can never widen the approval to every pending commission.
        if affiliate_id is not None:
            await require_affiliates(
                session, [affiliate_id], account_id=account_id, livemode=livemode,
                param="affiliate_id",
            )  # fmt: skip
            query = query.where(Commission.affiliate_id == affiliate_id)
        if created_before is not None:
            query = query.where(Commission.created_at < created_before)
    found = list((await session.scalars(query.order_by(Commission.id).limit(BULK_LIMIT))).all())
    if ids is not None:
        missing = sorted(set(ids) - set(found))
        if missing:
            raise NotFound(f"No such commission: {missing[0]!r}.", param="ids")
    approved = await _approve(session, found, account_id=account_id, actor=None)
    return approved, sorted(set(found) - set(approved))


async def approve_held(session: AsyncSession, *, hold_hours: int) -> int:
    """Approve every pending commission older than the hold period (the scheduled job)."""
    cutoff = clock.now() - timedelta(hours=hold_hours)
    rows = (
        await session.execute(
            select(Commission.id, Commission.account_id)
            .where(Commission.status == "pending", Commission.created_at <= cutoff)
            .order_by(Commission.id)
            .limit(BULK_LIMIT)
        )
    ).all()
    by_account: dict[str, list[str]] = {}
    for row in rows:
        by_account.setdefault(row.account_id, []).append(row.id)
    approved = 0
    for account_id, ids in by_account.items():
        approved += len(await _approve(session, ids, account_id=account_id, actor="hold_period"))
    return approved
