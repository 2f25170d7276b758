"""The daily reconciliation report: kassa's record of each payment beside the provider's.

One CSV row per payment created that UTC day. The provider's side is what the provider itself
has on record, asked by the provider's id and the charge's idempotency key (``retrieve``, a
read): never derived from what kassa believes it sent. ``difference`` names what disagrees,
``;``-separated, empty when both sides agree (docs/payments.md lists every value):

    in_flight                kassa still waits for the provider's answer (``processing``);
                             reconciliation settles it, compare again later
    missing_at_provider      kassa says the provider has the payment (an id, an authorization,
                             money captured), the provider has no record of it
    status / amount / captured / refunded
                             the provider has it, and that field differs
    provider_not_configured  the payment's provider is not configured here any more
    provider_error:<code>    the provider could not be asked now (``circuit_open``, ``timeout``,
                             or the provider's own error code)

A payment the provider never received shows ``not_sent`` as its provider status (and nothing
captured or refunded there); it agrees with kassa when kassa also says nothing was sent
(refused before sending, or failed without reaching the provider).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core.csv_cells import csv_lines
from kassa.core.db import transaction
from kassa.core.errors import InvalidRequest
from kassa.core.money import Money
from kassa.payins.gateway import scope_of
from kassa.payins.models import Payment
from kassa.payins.reconcile import lookup_for
from kassa.payins.state import (
    PARTIALLY_REFUNDED,
    PROCESSING,
    REFUNDED,
    REQUIRES_CAPTURE,
    SUCCEEDED,
)
from kassa.providers.base import ProviderError, ProviderPayment
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
    "kassa_amount",
    "provider_amount",
    "kassa_captured",
    "provider_captured",
    "kassa_refunded",
    "provider_refunded",
    "difference",
)
# Every value the difference column can hold (docs/payments.md documents each).
DIFFERENCES = (
    "in_flight",
    "missing_at_provider",
    "status",
    "amount",
    "captured",
    "refunded",
    "provider_not_configured",
    "provider_error:<code>",
)
NOT_SENT = "not_sent"  # the provider status of a payment the provider has no record of
# kassa states that correspond to the provider's "succeeded".
_AS_PROVIDER = {PARTIALLY_REFUNDED: SUCCEEDED, REFUNDED: SUCCEEDED}
# kassa states in which the provider must have the payment.
_AT_PROVIDER = frozenset({REQUIRES_CAPTURE, SUCCEEDED, PARTIALLY_REFUNDED, REFUNDED})


@dataclass(frozen=True)
class ProviderSide:
    """What the provider said: its record, no record (``found`` None), or why it could not
    be asked (``problem``)."""

    found: ProviderPayment | None = None
    problem: str | None = None


def kassa_says_sent(payment: Payment) -> bool:
    """kassa's record says the provider received the charge."""
    return (
        payment.provider_payment_id is not None
        or payment.amount_captured > 0
        or payment.status in _AT_PROVIDER
    )


def differences(payment: Payment, side: ProviderSide) -> list[str]:
    if side.problem is not None:
        return [side.problem]
    if payment.status == PROCESSING:
        return ["in_flight"]
    theirs = side.found
    if theirs is None:
        return ["missing_at_provider"] if kassa_says_sent(payment) else []
    found = []
    if _AS_PROVIDER.get(payment.status, payment.status) != theirs.status:
        found.append("status")
    if Money(payment.amount, payment.currency) != theirs.amount:
        found.append("amount")
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
    rows: list[tuple[str, ...]] = [COLUMNS]
    for payment in payments:
        rows.append(_row(payment, await provider_side(registry, payment)))
    # A provider's id or error code is the provider's text: never a formula in a spreadsheet.
    return csv_lines(rows)


def _row(payment: Payment, side: ProviderSide) -> tuple[str, ...]:
    currency = payment.currency

    def fmt(minor: int) -> str:
        return Money(minor, currency).to_decimal_string()

    def theirs(money: Money | None) -> str:
        if side.problem is not None:
            return ""  # not asked: unknown
        return fmt(0) if money is None else money.to_decimal_string()

    found = side.found
    their_status = found.status if found else NOT_SENT
    return (
        payment.id,
        payment.account_id,
        "true" if payment.livemode else "false",
        payment.created_at.isoformat(),
        payment.provider,
        payment.provider_payment_id or "",
        currency,
        payment.status,
        "" if side.problem is not None else their_status,
        fmt(payment.amount),
        theirs(found.amount if found else None),
        fmt(payment.amount_captured),
        theirs(found.amount_captured if found else None),
        fmt(payment.amount_refunded),
        theirs(found.amount_refunded if found else None),
        ";".join(differences(payment, side)),
    )


async def provider_side(registry: ProviderRegistry, payment: Payment) -> ProviderSide:
    """Ask the payment's provider for its record (by id, else by idempotency key), through
    the circuit of the payment's own account and mode."""
    if not registry.knows(payment.provider):
        return ProviderSide(problem="provider_not_configured")
    try:  # the credentials that serve the account now (its own, else the install's)
        resolved = await registry.resolve(payment.provider, scope_of(payment))
    except InvalidRequest:
        return ProviderSide(problem="provider_not_configured")
    lookup = lookup_for(payment)
    guard = registry.guard(payment.provider, resolved.scope)
    try:
        found = await guard.call(lambda: resolved.adapter.retrieve(lookup), [])
    except ProviderError as exc:
        return ProviderSide(problem=f"provider_error:{exc.code}")
    return ProviderSide(found=found)
