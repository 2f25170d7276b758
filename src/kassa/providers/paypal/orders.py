"""Reading PayPal Orders v2 objects as kassa sees a payment (pure functions, no I/O).

An order holds one purchase unit (kassa sends one) whose ``payments`` list the
authorizations, captures and refunds PayPal made for it. What kassa's statuses are:

==================================  ==========================================
order ``status``                    kassa
==================================  ==========================================
CREATED, PAYER_ACTION_REQUIRED,     ``requires_action`` (the buyer approves at
SAVED, APPROVED                     PayPal; an APPROVED order is captured or
                                    authorized by ``confirm``)
COMPLETED, a capture COMPLETED,     ``succeeded`` (a PENDING capture has been
PENDING or (partially) refunded     accepted by PayPal; its DENIED webhook
                                    tells when it fails after all)
COMPLETED, an authorization         ``requires_capture``
CREATED or PENDING
COMPLETED, capture DECLINED or      ``failed`` (a DeclinedError from a call)
FAILED, authorization DENIED
VOIDED, or authorization VOIDED     ``canceled``
==================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kassa.core.money import Money
from kassa.providers.base import MethodDetails, PaymentStatus
from kassa.providers.paypal.amounts import from_paypal

Json = Mapping[str, Any]

WAITING = frozenset({"CREATED", "PAYER_ACTION_REQUIRED", "SAVED", "APPROVED"})
CAPTURED = frozenset({"COMPLETED", "PENDING", "PARTIALLY_REFUNDED", "REFUNDED"})
CAPTURE_FAILED = frozenset({"DECLINED", "FAILED"})
HELD = frozenset({"CREATED", "PENDING"})
REFUNDED = frozenset({"COMPLETED", "PENDING"})
PAYPAL_WALLET = MethodDetails(type="wallet", wallet="paypal")


def unit(order: Json) -> Json:
    units = order.get("purchase_units") or [{}]
    first: Json = units[0]
    return first


def _payments(order: Json, kind: str) -> list[Json]:
    found: list[Json] = []
    for each in order.get("purchase_units") or []:
        found.extend((each.get("payments") or {}).get(kind) or [])
    return found


def authorizations(order: Json) -> list[Json]:
    return _payments(order, "authorizations")


def captures(order: Json) -> list[Json]:
    return _payments(order, "captures")


def refunds(order: Json) -> list[Json]:
    return _payments(order, "refunds")


def amount(order: Json) -> Money:
    return from_paypal(unit(order)["amount"])


def _total(items: Iterable[Json], statuses: frozenset[str], zero: Money) -> Money:
    total = zero
    for item in items:
        if item.get("status") in statuses and item.get("amount"):
            total = total + from_paypal(item["amount"])
    return total


def amount_captured(order: Json) -> Money:
    return _total(captures(order), CAPTURED, Money.zero(amount(order).currency))


def amount_refunded(order: Json) -> Money:
    return _total(refunds(order), REFUNDED, Money.zero(amount(order).currency))


def approve_link(order: Json) -> str | None:
    """Where the buyer approves: ``payer-action`` (orders created with a payment source's
    experience context), ``approve`` (older integrations)."""
    links = {link.get("rel"): link.get("href") for link in order.get("links") or []}
    found = links.get("payer-action") or links.get("approve")
    return str(found) if found else None


def declined_capture(order: Json) -> Json | None:
    if any(c.get("status") in CAPTURED for c in captures(order)):
        return None
    return next((c for c in captures(order) if c.get("status") in CAPTURE_FAILED), None)


def capture_decline_code(capture: Json) -> str:
    """``paypal:DECLINED`` with the processor's response code when PayPal gives it
    (``paypal:DECLINED/5120`` is a card issuer's insufficient funds)."""
    status = str(capture.get("status") or "DECLINED")
    code = (capture.get("processor_response") or {}).get("response_code")
    return f"paypal:{status}/{code}" if code else f"paypal:{status}"


def status_of(order: Json) -> PaymentStatus:
    state = order.get("status")
    if state in WAITING:
        return "requires_action"
    if state == "VOIDED":
        return "canceled"
    if any(c.get("status") in CAPTURED for c in captures(order)):
        return "succeeded"
    if declined_capture(order) is not None:
        return "failed"
    held = authorizations(order)
    if any(a.get("status") in HELD for a in held):
        return "requires_capture"
    if any(a.get("status") == "DENIED" for a in held):
        return "failed"
    if any(a.get("status") == "VOIDED" for a in held):
        return "canceled"
    return "requires_action" if not held else "canceled"


def open_authorization(order: Json) -> Json | None:
    """The authorization a capture or a void acts on (the latest, which kassa made)."""
    held = authorizations(order)
    return held[-1] if held else None


def refundable_capture(order: Json) -> Json | None:
    return next((c for c in captures(order) if c.get("status") in CAPTURED), None)


def method_of(order: Json) -> MethodDetails | None:
    return PAYPAL_WALLET if "paypal" in (order.get("payment_source") or {}) else None
