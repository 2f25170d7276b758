"""Stripe's objects (PaymentIntent, Charge, PaymentMethod) as kassa's neutral objects."""

from __future__ import annotations

from typing import Any

import stripe

from kassa.core.money import Money
from kassa.providers.base import MethodDetails, NextAction, PaymentStatus
from kassa.providers.stripe.amounts import from_stripe

# PaymentIntent statuses that are already a kassa payment status.
_SAME: dict[str, PaymentStatus] = {
    "requires_action": "requires_action",
    "requires_capture": "requires_capture",
    "succeeded": "succeeded",
    "canceled": "canceled",
}


def status_of(intent: stripe.PaymentIntent) -> PaymentStatus | None:
    """kassa's status for the intent; None for ``processing`` / ``requires_confirmation``
    (Stripe has not finished: ask again later)."""
    if intent.status in _SAME:
        return _SAME[intent.status]
    if intent.status == "requires_payment_method":
        return "failed"
    return None


def _card(card: Any) -> MethodDetails:
    return MethodDetails(
        type="card",
        brand=getattr(card, "brand", None),
        last4=getattr(card, "last4", None),
        exp_month=getattr(card, "exp_month", None),
        exp_year=getattr(card, "exp_year", None),
    )


def method_details(source: Any) -> MethodDetails | None:
    """Display details of a PaymentMethod, or of a Charge's ``payment_method_details``."""
    kind = getattr(source, "type", None)
    if kind == "card" and getattr(source, "card", None) is not None:
        return _card(source.card)
    if kind in ("us_bank_account", "sepa_debit", "bacs_debit", "au_becs_debit"):
        bank = getattr(source, kind, None)
        return MethodDetails(
            type="bank_account",
            bank_name=getattr(bank, "bank_name", None),
            last4=getattr(bank, "last4", None),
        )
    if kind:
        return MethodDetails(type="wallet", wallet=str(kind))
    return None


def latest_charge(intent: stripe.PaymentIntent) -> stripe.Charge | None:
    found = intent.latest_charge
    return found if isinstance(found, stripe.Charge) else None


def intent_method(intent: stripe.PaymentIntent) -> MethodDetails | None:
    charge = latest_charge(intent)
    if charge is not None and charge.payment_method_details is not None:
        return method_details(charge.payment_method_details)
    method = intent.payment_method
    return method_details(method) if isinstance(method, stripe.PaymentMethod) else None


def next_action(intent: stripe.PaymentIntent) -> NextAction:
    """What the customer must do: visit Stripe's page when Stripe gave a redirect (a
    ``return_url`` was sent), else finish in the merchant's page with Stripe.js and the
    intent's client secret (``use_stripe_sdk``)."""
    action = intent.next_action
    redirect = getattr(action, "redirect_to_url", None) if action is not None else None
    if redirect is not None and getattr(redirect, "url", None):
        return NextAction(type="redirect_to_url", redirect_url=redirect.url)
    return NextAction(type="use_sdk", client_secret=intent.client_secret)


def amounts(intent: stripe.PaymentIntent) -> tuple[Money, Money]:
    """(amount, amount captured) of the intent, in kassa's units."""
    return (
        from_stripe(intent.amount, intent.currency),
        from_stripe(intent.amount_received or 0, intent.currency),
    )
