"""PayPal events -> neutral updates.

Payload (``InboundEvent.payload``): the webhook event as PayPal sends it, parsed JSON
(notifications_webhooks_v1.json ``event``): ``{"id": "WH-...", "event_type": "...",
"resource_type": "...", "resource": {...}}``, the resource an Order (Orders v2), a Capture or a
Refund (Payments v2), or a dispute (Customer Disputes v1).

A payment is named by its order id, authorization id or capture id (whichever kassa's PayPal
adapter stored): a capture carries all three in ``supplementary_data.related_ids``; a refund
names its capture in its ``up`` link; a dispute names the capture as
``disputed_transactions[].seller_transaction_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.payins.provider_events.updates import (
    ActionCompleted,
    Charged,
    Declined,
    DisputeChanged,
    ProviderRefund,
    Refunded,
    UnreadableEvent,
    Update,
)

# PayPal's dispute status -> kassa's; a RESOLVED one by its outcome (``dispute_outcome``).
DISPUTE_STATUS = {
    "OPEN": "needs_response",
    "WAITING_FOR_SELLER_RESPONSE": "needs_response",
    "WAITING_FOR_BUYER_RESPONSE": "under_review",
    "UNDER_REVIEW": "under_review",
    "OTHER": "under_review",
}
DISPUTE_OUTCOME = {
    "RESOLVED_SELLER_FAVOUR": "won",
    "DENIED": "won",  # the claim was denied: the merchant keeps the money
    "RESOLVED_WITH_PAYOUT": "won",  # PayPal paid the buyer itself
    "RESOLVED_BUYER_FAVOUR": "lost",
    "ACCEPTED": "lost",  # the merchant accepted the claim: the buyer is refunded
    "CANCELED_BY_BUYER": "closed",
    "NONE": "closed",
}
REFUND_STATUS = {"COMPLETED": "succeeded", "PENDING": "pending"}


def _resource(payload: dict[str, Any]) -> dict[str, Any]:
    resource = payload.get("resource")
    if not isinstance(resource, dict):
        raise UnreadableEvent("the event has no resource")
    return resource


def _ids(*values: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str) and v))


def _money(value: object) -> Money:
    if not isinstance(value, dict):
        raise UnreadableEvent("the resource has no amount")
    try:
        return Money.parse(str(value.get("value")), str(value.get("currency_code")))
    except KassaError as exc:
        raise UnreadableEvent(f"unreadable amount: {exc.message}") from None


def _related(resource: dict[str, Any]) -> dict[str, Any]:
    data = resource.get("supplementary_data")
    related = data.get("related_ids") if isinstance(data, dict) else None
    return related if isinstance(related, dict) else {}


def _linked(resource: dict[str, Any], rel: str) -> str | None:
    """The last path segment of the resource's ``rel`` link (the id it points at)."""
    for link in resource.get("links") or ():
        if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
            return str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
    return None


def _capture_ids(capture: dict[str, Any]) -> tuple[str, ...]:
    related = _related(capture)
    return _ids(related.get("order_id"), related.get("authorization_id"), capture.get("id"))


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _dispute(dispute: dict[str, Any]) -> DisputeChanged:
    status = str(dispute.get("status"))
    if status == "RESOLVED":
        outcome = dispute.get("dispute_outcome")
        code = outcome.get("outcome_code") if isinstance(outcome, dict) else None
        kassa_status = DISPUTE_OUTCOME.get(str(code), "closed")
    else:
        kassa_status = DISPUTE_STATUS.get(status, "needs_response")
    transactions = dispute.get("disputed_transactions") or ()
    ids = _ids(*(t.get("seller_transaction_id") for t in transactions if isinstance(t, dict)))
    reason = dispute.get("reason")
    if not isinstance(dispute.get("dispute_id"), str):
        raise UnreadableEvent("the dispute has no dispute_id")
    return DisputeChanged(
        payment_ids=ids,
        provider_dispute_id=str(dispute["dispute_id"]),
        status=kassa_status,
        amount=_money(dispute.get("dispute_amount")),
        reason=reason.lower() if isinstance(reason, str) else None,
        evidence_due_by=_time(dispute.get("seller_response_due_date")),
    )


def references(payload: dict[str, Any]) -> tuple[str, ...]:
    """kassa's own keys the event carries back: kassa's PayPal adapter sends the charge's key
    (``pay_.../authorize``) as the purchase unit's ``custom_id`` and ``invoice_id``, which its
    captures keep, and a dispute shows as ``custom`` and ``invoice_number``."""
    resource = payload.get("resource")
    if not isinstance(resource, dict):
        return ()
    units = [u for u in resource.get("purchase_units") or () if isinstance(u, dict)]
    disputed = [t for t in resource.get("disputed_transactions") or () if isinstance(t, dict)]
    found = [h[k] for h in (resource, *units) for k in ("custom_id", "invoice_id") if k in h] + [
        t[k] for t in disputed for k in ("custom", "invoice_number") if k in t
    ]
    return tuple(v for v in found if isinstance(v, str))


def parse(event_type: str, payload: dict[str, Any]) -> Update | None:
    """The update a PayPal event makes, or None for a type kassa does not act on."""
    if event_type == "CHECKOUT.ORDER.APPROVED":
        order = _resource(payload)
        return ActionCompleted(_ids(order.get("id")))
    if event_type == "PAYMENT.CAPTURE.COMPLETED":
        capture = _resource(payload)
        return Charged(_capture_ids(capture), _money(capture.get("amount")))
    if event_type in ("PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED"):
        capture = _resource(payload)
        processor = capture.get("processor_response")
        code = processor.get("response_code") if isinstance(processor, dict) else None
        # The code kassa's PayPal adapter gives the same decline (paypal:DECLINED/5120), so a
        # payment reads the same whether the API's answer or the webhook told kassa first.
        status = str(capture.get("status") or "DECLINED")
        decline = f"paypal:{status}/{code}" if code else f"paypal:{status}"
        return Declined(_capture_ids(capture), decline, "PayPal denied the capture.")
    if event_type == "PAYMENT.CAPTURE.REFUNDED":
        refund = _resource(payload)
        related = _related(refund)
        ids = _ids(
            related.get("order_id"),
            related.get("authorization_id"),
            related.get("capture_id"),
            _linked(refund, "up"),
        )
        if not isinstance(refund.get("id"), str):
            raise UnreadableEvent("the refund has no id")
        one = ProviderRefund(
            id=str(refund["id"]),
            amount=_money(refund.get("amount")),
            status=REFUND_STATUS.get(str(refund.get("status")), "failed"),
            reference=refund.get("invoice_id")
            if isinstance(refund.get("invoice_id"), str)
            else None,
        )
        return Refunded(ids, (one,))
    if event_type in (
        "CUSTOMER.DISPUTE.CREATED",
        "CUSTOMER.DISPUTE.UPDATED",
        "CUSTOMER.DISPUTE.RESOLVED",
    ):
        return _dispute(_resource(payload))
    return None
