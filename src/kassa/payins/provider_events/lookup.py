"""Which kassa payment a provider's event is about, within the event's account only.

An event for an account's own credentials is looked for in that account (and mode) alone:
it never touches another account's objects, even one that names the same provider id. An
event for the install's default credentials (``credentials_id == "default"``) is looked for
in every account, in the event's mode; the account it finds becomes the event's.

The payment is the one whose ``provider_payment_id`` is one of the ids the event names, made
with a provider of the event's kind. Otherwise, by the key kassa itself gave the provider
(``pay_<id>/<operation>``), which the provider carries back: a webhook can arrive before
kassa's own API call has recorded the provider's answer (no provider id stored yet), and some
events name another of the provider's objects (a PayPal dispute names the capture; kassa
stores the order). The keys are read only where kassa's adapters put them (Stripe: the
request's Idempotency-Key and the ``kassa_idempotency_key`` metadata; PayPal: ``custom_id``
and ``invoice_id``; Braintree: ``order_id``), never from merchant-chosen fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.payins.models import Payment
from kassa.providers.credentials import DEFAULT
from kassa.providers.registry import kind_of


class Scope:
    """Where an event may look: its credentials' account (or every account, for the
    install's default credentials), in its mode, among payments of its provider kind."""

    def __init__(
        self, *, kind: str, credentials_id: str, account_id: str | None, livemode: bool
    ) -> None:
        self.kind = kind
        self.credentials_id = credentials_id
        self.account_id = account_id
        self.livemode = livemode

    @property
    def searchable(self) -> bool:
        # An account's credentials with no account recorded: look nowhere rather than
        # everywhere.
        return self.credentials_id == DEFAULT or self.account_id is not None

    def holds(self, payment: Payment) -> bool:
        if payment.livemode != self.livemode or kind_of(payment.provider) != self.kind:
            return False
        return self.credentials_id == DEFAULT or payment.account_id == self.account_id


def _payment_ids(references: Sequence[str]) -> list[str]:
    """``pay_...`` ids in the references (``pay_.../authorize`` is the payment's key)."""
    return list(
        dict.fromkeys(
            r.split("/", 1)[0] for r in references if r.startswith("pay_") and len(r) < 80
        )
    )


async def find_payment(
    session: AsyncSession,
    scope: Scope,
    provider_ids: Sequence[str],
    references: Sequence[str] = (),
) -> Payment | None:
    """The one payment the event is about, or None (not found, or not one: ambiguous)."""
    if not scope.searchable:
        return None
    found: list[Payment] = []
    if provider_ids:
        rows = await session.scalars(
            select(Payment).where(Payment.provider_payment_id.in_(list(provider_ids)))
        )
        found = [p for p in rows if scope.holds(p)]
    if not found:
        ours = _payment_ids(references)
        if ours:
            rows = await session.scalars(select(Payment).where(Payment.id.in_(ours)))
            found = [p for p in rows if scope.holds(p)]
    return found[0] if len(found) == 1 else None
