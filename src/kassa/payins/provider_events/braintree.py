"""Braintree notifications -> neutral updates.

Payload (``InboundEvent.payload``): the notification in ``bt_payload``, base64-decoded and
parsed as the braintree SDK parses it (``braintree.util.XmlUtil.dict_from_xml``), the
``notification`` element's dict made JSON-safe (dates and times as ISO strings, amounts as
the decimal strings the XML has): ``{"kind": "dispute_opened", "timestamp": "...",
"subject": {"dispute": {...}}}`` or ``{"subject": {"transaction": {...}}}``; keys are
underscored as the SDK makes them (``currency_iso_code``, ``reply_by_date``). The whole
``{"notification": {...}}`` is accepted too. ``event_type`` is the notification's kind.

A payment is named by its transaction id (what kassa's Braintree adapter stores).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.payins.provider_events.updates import (
    Charged,
    DisputeChanged,
    SettlementDeclined,
    UnreadableEvent,
    Update,
)

# The dispute notification kinds -> kassa's dispute status. Accepting a dispute (or letting
# it be accepted, or expire) gives the money back: lost.
DISPUTE_KINDS = {
    "dispute_opened": "needs_response",
    "dispute_disputed": "under_review",
    "dispute_under_review": "under_review",
    "dispute_won": "won",
    "dispute_lost": "lost",
    "dispute_accepted": "lost",
    "dispute_auto_accepted": "lost",
    "dispute_expired": "lost",
}


def _subject(payload: dict[str, Any], name: str) -> dict[str, Any]:
    notification = payload.get("notification", payload)
    subject = notification.get("subject") if isinstance(notification, dict) else None
    found = subject.get(name) if isinstance(subject, dict) else None
    if not isinstance(found, dict) or not isinstance(found.get("id"), str):
        raise UnreadableEvent(f"the notification has no {name} with an id")
    return found


def _money(obj: dict[str, Any], *fields: str) -> Money:
    for field in fields:
        value = obj.get(field)
        if value is not None:
            try:
                return Money.parse(str(value), str(obj.get("currency_iso_code")))
            except KassaError as exc:
                raise UnreadableEvent(f"unreadable amount: {exc.message}") from None
    raise UnreadableEvent("no amount")


def _day(value: object) -> datetime | None:
    """A date (``reply_by_date``) as its first moment, UTC: the earliest it could mean."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def references(payload: dict[str, Any]) -> tuple[str, ...]:
    """kassa's own ids the notification carries back: a transaction's ``order_id``."""
    notification = payload.get("notification", payload)
    subject = notification.get("subject") if isinstance(notification, dict) else None
    transaction = subject.get("transaction") if isinstance(subject, dict) else None
    order = transaction.get("order_id") if isinstance(transaction, dict) else None
    return (order,) if isinstance(order, str) else ()


def parse(event_type: str, payload: dict[str, Any]) -> Update | None:
    """The update a Braintree notification makes, or None for a kind kassa does not act on."""
    if event_type == "transaction_settled":
        transaction = _subject(payload, "transaction")
        return Charged((transaction["id"],), _money(transaction, "amount"))
    if event_type == "transaction_settlement_declined":
        transaction = _subject(payload, "transaction")
        code = transaction.get("processor_settlement_response_code") or "settlement_declined"
        text = transaction.get("processor_settlement_response_text")
        return SettlementDeclined(
            (transaction["id"],), str(code), str(text or "The settlement was declined.")
        )
    status = DISPUTE_KINDS.get(event_type)
    if status is not None:
        dispute = _subject(payload, "dispute")
        disputed = dispute.get("transaction")
        txn_id = disputed.get("id") if isinstance(disputed, dict) else None
        reason = dispute.get("reason")
        return DisputeChanged(
            payment_ids=(txn_id,) if isinstance(txn_id, str) else (),
            provider_dispute_id=dispute["id"],
            status=status,
            amount=_money(dispute, "amount_disputed", "amount"),
            reason=reason.lower() if isinstance(reason, str) else None,
            evidence_due_by=_day(dispute.get("reply_by_date")),
        )
    return None
