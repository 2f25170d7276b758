"""The daily reconciliation report: kassa's record of each payment beside the provider's.

One CSV row per payment created that UTC day; ``difference`` names what disagrees (empty when
both sides match), so ``grep -v ',$'`` style filters or a spreadsheet show the exceptions.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core.db import transaction
from kassa.core.money import Money
from kassa.payins.capture import capture_key
from kassa.payins.models import Payment, Refund
from kassa.payins.reconcile import lookup_for
from kassa.payins.refund import refund_request
from kassa.payins.state import PARTIALLY_REFUNDED, REFUNDED
from kassa.providers.base import CaptureRequest, PaymentLookup, ProviderError, ProviderPayment
from kassa.providers.registry import ProviderRegistry

COLUMNS = (
    "payment_id",
    "account_id",
    "livemode",
    "created_at",
    "provider",
    "provider_payment_id",
    "currency",
    "kassa_status",
    "provider_status",
    "kassa_captured",
    "provider_captured",
    "kassa_refunded",
    "provider_refunded",
    "difference",
)
# kassa states that correspond to the provider's "succeeded".
_AS_PROVIDER = {PARTIALLY_REFUNDED: "succeeded", REFUNDED: "succeeded"}


def _differences(payment: Payment, theirs: ProviderPayment | None) -> list[str]:
    if theirs is None:
        charged = payment.amount_captured > 0 or payment.status == "requires_capture"
        return ["missing_at_provider"] if charged else []
    found = []
    if _AS_PROVIDER.get(payment.status, payment.status) != theirs.status:
        found.append("status")
    if payment.amount_captured != theirs.amount_captured.minor:
        found.append("captured")
    if payment.amount_refunded != theirs.amount_refunded.minor:
        found.append("refunded")
    return found


async def build_report(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    day: date,
    account_id: str | None = None,
    livemode: bool | None = None,
) -> str:
    """The day's payments, kassa beside the provider; ``account_id``/``livemode`` narrow it
    (an API key sees only its own account and mode)."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    async with transaction(sessions) as session:
        query = select(Payment).where(
            Payment.created_at >= start, Payment.created_at < start + timedelta(days=1)
        )
        if account_id is not None:
            query = query.where(Payment.account_id == account_id)
        if livemode is not None:
            query = query.where(Payment.livemode == livemode)
        payments = (await session.scalars(query.order_by(Payment.id))).all()
        refunds = await _refunds(session, [p.id for p in payments])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for payment in payments:
        theirs, note = await _provider_view(registry, payment, refunds.get(payment.id, []))
        diffs = [note] if note else _differences(payment, theirs)
        c = payment.currency

        def fmt(minor: int | None, currency: str = c) -> str:
            return "" if minor is None else Money(minor, currency).to_decimal_string()

        writer.writerow(
            (
                payment.id,
                payment.account_id,
                "true" if payment.livemode else "false",
                payment.created_at.isoformat(),
                payment.provider,
                payment.provider_payment_id or "",
                c,
                payment.status,
                theirs.status if theirs else "",
                fmt(payment.amount_captured),
                fmt(theirs.amount_captured.minor if theirs else None),
                fmt(payment.amount_refunded),
                fmt(theirs.amount_refunded.minor if theirs else None),
                ";".join(diffs),
            )
        )
    return out.getvalue()


async def _refunds(session: AsyncSession, payment_ids: list[str]) -> dict[str, list[Refund]]:
    grouped: dict[str, list[Refund]] = {}
    for start in range(0, len(payment_ids), 500):
        chunk = payment_ids[start : start + 500]
        rows = await session.scalars(
            select(Refund).where(Refund.payment_id.in_(chunk), Refund.status == "succeeded")
        )
        for row in rows:
            grouped.setdefault(row.payment_id, []).append(row)
    return grouped


async def _provider_view(
    registry: ProviderRegistry, payment: Payment, refunds: list[Refund]
) -> tuple[ProviderPayment | None, str | None]:
    if payment.provider not in registry.providers:
        return None, "provider_not_configured"
    base = lookup_for(payment)
    captures: tuple[CaptureRequest, ...] = ()
    if payment.amount_captured and not payment.capture:
        captured = Money(payment.amount_captured, payment.currency)
        ppid = payment.provider_payment_id or ""
        captures = (CaptureRequest(capture_key(payment.id), ppid, captured),)
    lookup = PaymentLookup(
        charge=base.charge,
        provider_payment_id=payment.provider_payment_id,
        captures=captures,
        refunds=tuple(refund_request(r, payment) for r in refunds),
    )
    try:
        found = await registry.guard(payment.provider).call(
            lambda: registry.get(payment.provider).retrieve(lookup), []
        )
    except ProviderError as exc:
        return None, f"provider_error:{exc.code}"
    return found, None
