"""What a provider's event says, in kassa's terms: one neutral update per event.

Each provider's parser (``stripe.py``, ``paypal.py``, ``braintree.py``) turns an event's
payload into one of these, or ``None`` for a type kassa does not act on. ``payment_ids`` are
the provider's ids that may name the payment (a Stripe PaymentIntent and its charge; a PayPal
order, its authorization and its capture): the payment is the one whose
``provider_payment_id`` is one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kassa.core.money import Money


@dataclass(frozen=True)
class Charged:
    """The provider captured the payment (``amount``: what it captured, when it says)."""

    payment_ids: tuple[str, ...]
    amount: Money | None = None


@dataclass(frozen=True)
class Declined:
    """The provider declined or failed the charge."""

    payment_ids: tuple[str, ...]
    decline_code: str
    message: str


@dataclass(frozen=True)
class Canceled:
    """The provider canceled the payment (an authorization voided, an intent canceled)."""

    payment_ids: tuple[str, ...]


@dataclass(frozen=True)
class ActionRequired:
    """The customer must act (3-D Secure, approval at PayPal) before the payment goes on."""

    payment_ids: tuple[str, ...]


@dataclass(frozen=True)
class ActionCompleted:
    """The customer did what was asked (PayPal: approved the order): kassa goes on."""

    payment_ids: tuple[str, ...]


@dataclass(frozen=True)
class SettlementDeclined:
    """A charge the provider had accepted did not settle (Braintree: the bank refused it)."""

    payment_ids: tuple[str, ...]
    code: str
    message: str


@dataclass(frozen=True)
class ProviderRefund:
    """One refund as the provider shows it (``reference``: kassa's refund id, when the
    provider carries it back, e.g. in metadata)."""

    id: str
    amount: Money
    status: str  # succeeded | pending | failed
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Refunded:
    """Money went back to the customer: ``refunds``, the refunds the event shows (each one
    applied), and ``total``, all the provider has refunded on the payment, when it says (what
    the listed refunds do not account for becomes one more refund)."""

    payment_ids: tuple[str, ...]
    refunds: tuple[ProviderRefund, ...] = ()
    total: Money | None = None


@dataclass(frozen=True)
class DisputeChanged:
    """A dispute as the provider shows it now (kassa's status: see ``payins.disputes``)."""

    payment_ids: tuple[str, ...]
    provider_dispute_id: str
    status: str
    amount: Money
    reason: str | None
    evidence_due_by: datetime | None


Update = (
    Charged
    | Declined
    | Canceled
    | ActionRequired
    | ActionCompleted
    | SettlementDeclined
    | Refunded
    | DisputeChanged
)


class UnreadableEvent(ValueError):
    """The payload lacks what its type promises (kept as ``failed`` with this message)."""
