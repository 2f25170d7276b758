"""Stripe events -> neutral updates.

Payload (``InboundEvent.payload``): the event as Stripe sends it, parsed JSON:
``{"id": "evt_...", "type": "...", "data": {"object": {...}}, "livemode": ...}``, the object
a PaymentIntent, a Charge or a Dispute as in Stripe's API reference (fixtures3.json).

A payment is named by its PaymentIntent id (``pi_...``: what kassa's Stripe adapter stores)
and, as a fallback, by its charge id (``ch_...``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.payins.provider_events.updates import (
    ActionRequired,
    Canceled,
    Charged,
    Declined,
    DisputeChanged,
    ProviderRefund,
    Refunded,
    UnreadableEvent,
    Update,
)
from kassa.providers.stripe.amounts import from_stripe

# Stripe's dispute statuses -> kassa's (``payins.disputes``). The warning_* ones are
# inquiries: no money has moved yet.
DISPUTE_STATUS = {
    "warning_needs_response": "needs_response",
    "warning_under_review": "under_review",
    "warning_closed": "closed",
    "needs_response": "needs_response",
    "under_review": "under_review",
    "won": "won",
    "lost": "lost",
    "prevented": "closed",
}
REFUND_STATUS = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
METADATA_KEY = "kassa_idempotency_key"  # what kassa's Stripe adapter keeps in metadata


def _object(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise UnreadableEvent("the event has no data.object with an id")
    return obj


def _ids(*values: object) -> tuple[str, ...]:
    return tuple(v for v in values if isinstance(v, str) and v)


def _id_of(value: object) -> str | None:
    """An id, or the id of an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _money(obj: dict[str, Any], field: str = "amount") -> Money:
    amount, currency = obj.get(field), obj.get("currency")
    if not isinstance(amount, int) or not isinstance(currency, str):
        raise UnreadableEvent(f"the {obj.get('object')} has no {field} and currency")
    try:
        return from_stripe(amount, currency)
    except KassaError as exc:
        raise UnreadableEvent(f"unreadable amount: {exc.message}") from None


def _refund(obj: dict[str, Any]) -> ProviderRefund:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    reason = obj.get("reason")
    return ProviderRefund(
        id=str(obj["id"]),
        amount=_money(obj),
        status=REFUND_STATUS.get(str(obj.get("status")), "pending"),
        reason=reason if reason in REFUND_REASONS else None,
        reference=_id_of((metadata or {}).get(METADATA_KEY)),  # kassa's refund id
    )


def _charge_refunded(charge: dict[str, Any]) -> Refunded:
    ids = _ids(_id_of(charge.get("payment_intent")), charge["id"])
    listing = charge.get("refunds")
    total = _money(charge, "amount_refunded")
    # Since API version 2022-11-15 a charge lists its refunds only when expanded; without
    # the list (or with a truncated one) the total refunded is what the event says.
    if isinstance(listing, dict) and isinstance(listing.get("data"), list):
        refunds = tuple(_refund(r) for r in listing["data"] if isinstance(r, dict))
        return Refunded(ids, refunds, total)
    return Refunded(ids, (), total)


def _due_by(dispute: dict[str, Any]) -> datetime | None:
    details = dispute.get("evidence_details")
    due = details.get("due_by") if isinstance(details, dict) else None
    return datetime.fromtimestamp(due, UTC) if isinstance(due, int) else None


def _dispute(dispute: dict[str, Any]) -> DisputeChanged:
    status = DISPUTE_STATUS.get(str(dispute.get("status")))
    if status is None:
        raise UnreadableEvent(f"unknown Stripe dispute status {dispute.get('status')!r}")
    reason = dispute.get("reason")
    return DisputeChanged(
        payment_ids=_ids(_id_of(dispute.get("payment_intent")), _id_of(dispute.get("charge"))),
        provider_dispute_id=str(dispute["id"]),
        status=status,
        amount=_money(dispute),
        reason=reason.lower() if isinstance(reason, str) else None,
        evidence_due_by=_due_by(dispute),
    )


def references(payload: dict[str, Any]) -> tuple[str, ...]:
    """kassa's own keys the event carries back: the Idempotency-Key of the request that caused
    it and the object's ``kassa_idempotency_key`` metadata (kassa's Stripe adapter puts the
    charge's key, ``pay_.../authorize``, there)."""
    found: list[str] = []
    request = payload.get("request")
    if isinstance(request, dict) and isinstance(request.get("idempotency_key"), str):
        found.append(request["idempotency_key"])
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(metadata, dict) and isinstance(metadata.get(METADATA_KEY), str):
        found.append(metadata[METADATA_KEY])
    return tuple(found)


def parse(event_type: str, payload: dict[str, Any]) -> Update | None:
    """The update a Stripe event makes, or None for a type kassa does not act on."""
    if event_type.startswith("payment_intent."):
        intent = _object(payload)
        ids = _ids(intent["id"], _id_of(intent.get("latest_charge")))
        if event_type == "payment_intent.succeeded":
            received = intent.get("amount_received")
            amount = _money(intent, "amount_received") if isinstance(received, int) else None
            return Charged(ids, amount)
        if event_type == "payment_intent.payment_failed":
            error = intent.get("last_payment_error")
            error = error if isinstance(error, dict) else {}
            code = error.get("decline_code") or error.get("code") or "generic_decline"
            message = error.get("message") or "The card was declined."
            return Declined(ids, str(code), str(message))
        if event_type == "payment_intent.requires_action":
            return ActionRequired(ids)
        if event_type == "payment_intent.canceled":
            return Canceled(ids)
        return None
    if event_type == "charge.refunded":
        return _charge_refunded(_object(payload))
    if event_type in ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"):
        return _dispute(_object(payload))
    return None
