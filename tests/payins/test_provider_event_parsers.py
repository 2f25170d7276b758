"""The parsers read the providers' own objects: Stripe's published example of each resource
(fixtures/stripe_objects.json, from Stripe's OpenAPI fixtures) and notifications made by the
braintree SDK's WebhookTesting; what kassa makes of each field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kassa.core.money import Money
from kassa.payins.provider_events import braintree, paypal, stripe
from kassa.payins.provider_events.updates import (
    Charged,
    Declined,
    DisputeChanged,
    Refunded,
    SettlementDeclined,
    UnreadableEvent,
)
from tests.payins.provider_events_kit import braintree_payload, paypal_capture, paypal_event

OBJECTS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "stripe_objects.json").read_text()
)


def _event(event_type: str, kind: str, **changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(OBJECTS[kind])
    obj.update(changes)
    return {"id": "evt_1", "object": "event", "type": event_type, "data": {"object": obj}}


def test_stripe_intents_as_stripe_shows_them() -> None:
    succeeded = stripe.parse(
        "payment_intent.succeeded",
        _event(
            "payment_intent.succeeded", "payment_intent", status="succeeded", amount_received=1099
        ),
    )
    assert succeeded == Charged(("pi_1PgafyB7WZ01zgkWSjxsAJo3",), Money(1099, "USD"))
    # The example's last_payment_error has no decline code: the generic one.
    failed = stripe.parse(
        "payment_intent.payment_failed", _event("payment_intent.payment_failed", "payment_intent")
    )
    assert isinstance(failed, Declined) and failed.decline_code == "generic_decline"
    error = {"type": "card_error", "code": "card_declined", "decline_code": "lost_card"}
    lost = stripe.parse(
        "payment_intent.payment_failed",
        _event("payment_intent.payment_failed", "payment_intent", last_payment_error=error),
    )
    assert isinstance(lost, Declined) and lost.decline_code == "lost_card"


def test_stripe_amounts_are_converted_from_stripes_units() -> None:
    isk = _event(
        "payment_intent.succeeded", "payment_intent", currency="isk", amount_received=50000
    )
    assert stripe.parse("payment_intent.succeeded", isk) == Charged(
        ("pi_1PgafyB7WZ01zgkWSjxsAJo3",), Money(500, "ISK")
    )
    jpy = _event("payment_intent.succeeded", "payment_intent", currency="jpy", amount_received=500)
    charged = stripe.parse("payment_intent.succeeded", jpy)
    assert isinstance(charged, Charged) and charged.amount == Money(500, "JPY")


def test_stripe_charge_refunded_with_and_without_its_list() -> None:
    refund = copy.deepcopy(OBJECTS["refund"])
    refund["metadata"] = {"kassa_idempotency_key": "re_01JD2X9A1B2C3D4E5F6G7H8J9K"}
    listing = {"object": "list", "data": [refund], "has_more": False, "url": "/v1/refunds"}
    event = _event("charge.refunded", "charge", amount_refunded=100, refunds=listing)
    update = stripe.parse("charge.refunded", event)
    assert isinstance(update, Refunded)
    assert update.payment_ids == ("ch_1PgafuB7WZ01zgkWXYmPNZs8",)  # no intent in the example
    [one] = update.refunds
    assert (one.id, one.amount, one.status, one.reference) == (
        "re_1Pgc72B7WZ01zgkWqPvrRrPE",
        Money(100, "USD"),
        "succeeded",
        "re_01JD2X9A1B2C3D4E5F6G7H8J9K",
    )
    bare = _event("charge.refunded", "charge", amount_refunded=100, payment_intent="pi_1")
    del bare["data"]["object"]["refunds"]
    update = stripe.parse("charge.refunded", bare)
    assert isinstance(update, Refunded) and update.refunds == ()
    assert update.total == Money(100, "USD") and update.payment_ids[0] == "pi_1"


@pytest.mark.parametrize(
    ("status", "kassa"),
    [
        ("warning_needs_response", "needs_response"),
        ("warning_under_review", "under_review"),
        ("warning_closed", "closed"),
        ("needs_response", "needs_response"),
        ("under_review", "under_review"),
        ("won", "won"),
        ("lost", "lost"),
        ("prevented", "closed"),
    ],
)
def test_stripe_dispute_statuses(status: str, kassa: str) -> None:
    event = _event("charge.dispute.updated", "dispute", status=status)
    update = stripe.parse("charge.dispute.updated", event)
    assert update == DisputeChanged(
        payment_ids=("ch_1PgafuB7WZ01zgkWXYmPNZs8",),
        provider_dispute_id="dp_1Pgc71B7WZ01zgkWMevJiAUx",
        status=kassa,
        amount=Money(1000, "USD"),
        reason="general",
        evidence_due_by=datetime.fromtimestamp(1723679999, UTC),
    )


def test_stripe_kassa_keys_and_types_not_acted_on() -> None:
    event = _event("payment_intent.succeeded", "payment_intent")
    event["data"]["object"]["metadata"] = {"kassa_idempotency_key": "pay_X/authorize", "o": "1"}
    event["request"] = {"id": "req_1", "idempotency_key": "pay_X/capture"}
    assert stripe.references(event) == ("pay_X/capture", "pay_X/authorize")
    assert stripe.parse("payment_intent.created", event) is None
    assert stripe.parse("invoice.paid", event) is None
    with pytest.raises(UnreadableEvent):
        stripe.parse("charge.dispute.created", _event("x", "dispute", status="mystery"))


def test_paypal_resources() -> None:
    capture = paypal_capture("3C679366HH908993F", "5O190127TN364715T", "COMPLETED")
    capture["custom_id"] = "pay_X/authorize"
    event = paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture)
    assert paypal.parse(event["event_type"], event) == Charged(
        ("5O190127TN364715T", "3C679366HH908993F"), Money(10000, "USD")
    )
    assert paypal.references(event) == ("pay_X/authorize",)
    denied = dict(capture, status="DECLINED", processor_response={"response_code": "5400"})
    update = paypal.parse("PAYMENT.CAPTURE.DENIED", paypal_event("x", "capture", denied))
    assert isinstance(update, Declined) and update.decline_code == "paypal:DECLINED/5400"
    resolved = {
        "dispute_id": "PP-D-1",
        "disputed_transactions": [{"seller_transaction_id": "3C679366HH908993F"}],
        "status": "RESOLVED",
        "dispute_outcome": {"outcome_code": "RESOLVED_BUYER_FAVOUR"},
        "dispute_amount": {"currency_code": "JPY", "value": "500"},
        "seller_response_due_date": "2026-02-07T10:00:00.000Z",
    }
    update = paypal.parse("CUSTOMER.DISPUTE.RESOLVED", paypal_event("x", "dispute", resolved))
    assert isinstance(update, DisputeChanged)
    assert (update.status, update.amount, update.reason) == ("lost", Money(500, "JPY"), None)
    assert update.evidence_due_by == datetime(2026, 2, 7, 10, tzinfo=UTC)
    assert paypal.parse("BILLING.SUBSCRIPTION.CREATED", event) is None


def test_braintree_notifications_from_its_sdk() -> None:
    settled = braintree_payload("transaction_settled", "txn_1")
    assert braintree.parse("transaction_settled", settled) == Charged(
        ("txn_1",), Money(10000, "USD")
    )
    declined = braintree.parse(
        "transaction_settlement_declined", braintree_payload("transaction_settlement_declined", "t")
    )
    assert isinstance(declined, SettlementDeclined) and declined.code == "settlement_declined"
    for kind, status in braintree.DISPUTE_KINDS.items():
        update = braintree.parse(kind, braintree_payload(kind, "dsp_1"))
        assert isinstance(update, DisputeChanged), kind
        assert (update.status, update.provider_dispute_id) == (status, "dsp_1"), kind
        assert update.amount.currency == "USD", kind
    assert braintree.parse("subscription_went_past_due", settled) is None
    assert braintree.parse("transaction_settled", {"notification": settled}) is not None
