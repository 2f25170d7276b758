"""Provider events applied to payments, refunds and disputes (payins.apply_provider_event):
each event type, within its account only, idempotent, out of order, through the jobs
machinery, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from kassa.core.db import transaction
from kassa.core.money import Money
from kassa.jobs.models import Event
from kassa.payins import create_payment
from kassa.payins import refund as refunds
from kassa.payins.models import Payment
from kassa.providers.credentials import DEFAULT
from tests.conftest import Backend
from tests.factories import merchant
from tests.payins.provider_events_kit import (
    Kit,
    braintree_payload,
    charge,
    make_kit,
    payment_intent,
    paypal_capture,
    paypal_event,
    stripe_dispute,
    stripe_event,
    stripe_refund,
)


@pytest.fixture
def kit(db: Backend, tmp_path: Path) -> Kit:
    return make_kit(db, tmp_path)


# -- Stripe: payments ----------------------------------------------------------------------
async def test_a_webhook_before_kassas_own_answer_settles_it_and_the_answer_does_not_regress_it(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    payment = await kit.processing(m.account_id, "stripe")  # intent committed, call in flight
    event = stripe_event(
        "payment_intent.succeeded",
        payment_intent("pi_3Kassa0000000001", "succeeded"),
        request={"id": "req_1", "idempotency_key": payment.idempotency_key},
    )
    row = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert (row.status, row.object_id, row.error) == ("processed", payment.id, None)
    settled = await kit.payment(payment.id)
    assert (settled.status, settled.amount_captured) == ("succeeded", 10000)
    assert settled.provider_payment_id == "pi_3Kassa0000000001"

    # kassa's own call returns now: its settle finds the payment settled and changes nothing.
    outcome = await create_payment.call(kit.registry, payment)
    view = await create_payment.settle(db.sessions, payment, outcome)
    assert view["status"] == "succeeded" and view["provider_payment_id"] == "pi_3Kassa0000000001"
    assert await kit.event_types(payment.id) == [
        "payment.created",
        "payment.processing",
        "payment.succeeded",
    ]
    assert await kit.audit_actions(payment.id) == [
        "payment.create",
        "payment.processing",
        "payment.succeeded",
    ]

    # The same event again (a redelivery, a reprocess): nothing changes.
    events_before = await kit.count(Event)
    again = await kit.rerun(row.id)
    assert again.status == "processed" and again.attempts == 2
    assert await kit.count(Event) == events_before
    assert (await kit.payment(payment.id)).updated_at == settled.updated_at


async def test_a_failed_intent_fails_the_processing_payment_with_its_decline_code(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    payment = await kit.processing(m.account_id, "stripe")
    intent = payment_intent(
        "pi_3Kassa0000000002",
        "requires_payment_method",
        last_payment_error={
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        },
    )
    event = stripe_event(
        "payment_intent.payment_failed",
        intent,
        request={"id": "req_2", "idempotency_key": payment.idempotency_key},
    )
    row = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert row.status == "processed"
    failed = await kit.payment(payment.id)
    assert (failed.status, failed.failure_code, failed.decline_code) == (
        "failed",
        "card_declined",
        "insufficient_funds",
    )
    assert (await kit.event_types(payment.id))[-1] == "payment.failed"


async def test_events_that_agree_or_would_move_backwards_change_nothing(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "stripe")
    pi = paid.provider_payment_id
    assert pi
    before = await kit.count(Event)
    for event_type, status in (
        ("payment_intent.succeeded", "succeeded"),
        ("payment_intent.payment_failed", "requires_payment_method"),  # an earlier attempt
        ("payment_intent.requires_action", "requires_action"),
    ):
        event = stripe_event(event_type, payment_intent(pi, status))
        row = await kit.deliver("stripe", event_type, event, account_id=m.account_id)
        assert (row.status, row.error) == ("processed", None), event_type
    assert await kit.count(Event) == before
    assert (await kit.payment(paid.id)).status == "succeeded"


async def test_a_canceled_intent_cancels_an_authorized_payment(kit: Kit, db: Backend) -> None:
    m = await merchant(db.sessions)
    held = await kit.pay(m.account_id, "stripe", capture=False)
    assert held.status == "requires_capture" and held.provider_payment_id
    event = stripe_event(
        "payment_intent.canceled", payment_intent(held.provider_payment_id, "canceled")
    )
    row = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert row.status == "processed"
    canceled = await kit.payment(held.id)
    assert (canceled.status, canceled.amount_capturable) == ("canceled", 0)
    assert canceled.canceled_at is not None
    assert (await kit.event_types(held.id))[-1] == "payment.canceled"


async def test_captured_at_the_provider_while_kassa_waits_to_capture(kit: Kit, db: Backend) -> None:
    m = await merchant(db.sessions)
    held = await kit.pay(m.account_id, "stripe", capture=False)
    assert held.provider_payment_id
    intent = payment_intent(held.provider_payment_id, "succeeded", amount_received=6000)
    event = stripe_event("payment_intent.succeeded", intent)
    await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    captured = await kit.payment(held.id)
    assert (captured.status, captured.amount_captured, captured.amount_capturable) == (
        "succeeded",
        6000,
        0,
    )
    assert (await kit.event_types(held.id))[-2:] == ["payment.processing", "payment.succeeded"]


async def test_an_intent_canceled_while_kassa_waits_fails_the_payment(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    payment = await kit.processing(m.account_id, "stripe")
    intent = payment_intent("pi_3Kassa0000000003", "canceled")
    intent["metadata"] = {"kassa_idempotency_key": payment.idempotency_key}
    event = stripe_event("payment_intent.canceled", intent)
    await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    failed = await kit.payment(payment.id)
    assert (failed.status, failed.failure_code) == ("failed", "payment_canceled_by_provider")


# -- Stripe: refunds -----------------------------------------------------------------------
async def test_a_refund_made_at_the_dashboard_becomes_a_kassa_refund_once(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "stripe")
    pi = paid.provider_payment_id
    assert pi
    listed = [stripe_refund("re_3Dash0001", pi, 2500)]
    event = stripe_event("charge.refunded", charge(pi, amount_refunded=2500, refunds=listed))
    row = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert row.status == "processed" and row.object_id == paid.id
    [made] = await kit.refunds(paid.id)
    assert (made.status, made.amount, made.provider_refund_id) == (
        "succeeded",
        2500,
        "re_3Dash0001",
    )
    assert made.reason == "requested_by_customer"
    assert await kit.event_types(made.id) == ["refund.created", "refund.succeeded"]
    after = await kit.payment(paid.id)
    assert (after.status, after.amount_refunded) == ("partially_refunded", 2500)
    assert (await kit.event_types(paid.id))[-1] == "payment.refunded"

    again = await kit.rerun(row.id)  # and a second delivery under another event id:
    twin = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert again.status == twin.status == "processed"
    assert len(await kit.refunds(paid.id)) == 1
    assert (await kit.payment(paid.id)).amount_refunded == 2500

    # Charges list no refunds since API 2022-11-15: the total says what else was refunded.
    rest = stripe_event("charge.refunded", charge(pi, amount_refunded=10000, refunds=None))
    await kit.deliver("stripe", rest["type"], rest, account_id=m.account_id)
    assert [r.amount for r in await kit.refunds(paid.id)] == [2500, 7500]
    full = await kit.payment(paid.id)
    assert (full.status, full.amount_refunded) == ("refunded", 10000)
    await kit.rerun(twin.id)  # the old news changes nothing now either
    assert len(await kit.refunds(paid.id)) == 2
    late = stripe_event("payment_intent.succeeded", payment_intent(pi, "succeeded"))
    row = await kit.deliver("stripe", late["type"], late, account_id=m.account_id)  # out of order
    assert (row.status, row.error) == ("processed", None)
    assert (await kit.payment(paid.id)).status == "refunded"  # never backwards


async def test_a_refund_still_pending_in_kassa_is_settled_by_the_event_and_not_doubled(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "stripe")
    pi = paid.provider_payment_id
    assert pi
    pending, _ = await refunds.intend(  # kassa's refund: intent committed, answer not yet
        db.sessions,
        account_id=m.account_id,
        livemode=False,
        payment_id=paid.id,
        amount=Money(4000, "USD"),
    )
    event = stripe_event("charge.refunded", charge(pi, amount_refunded=4000, refunds=None))
    row = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert row.status == "processed"
    [only] = await kit.refunds(paid.id)
    assert (only.id, only.status) == (pending.id, "succeeded")
    after = await kit.payment(paid.id)
    assert (after.amount_refunded, after.amount_refund_pending) == (4000, 0)
    # kassa's own answer arrives later: the refund is settled already.
    outcome = await refunds.call(kit.registry, pending, paid)
    settled = await refunds.settle(db.sessions, refund_id=pending.id, outcome=outcome)
    assert settled.status == "succeeded"
    assert (await kit.payment(paid.id)).amount_refunded == 4000
    assert await kit.event_types(pending.id) == ["refund.created", "refund.succeeded"]


async def test_a_listed_refund_carrying_kassas_key_settles_that_refund(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "stripe")
    pi = paid.provider_payment_id
    assert pi
    first, _ = await refunds.intend(
        db.sessions,
        account_id=m.account_id,
        livemode=False,
        payment_id=paid.id,
        amount=Money(1500, "USD"),
    )
    second, _ = await refunds.intend(  # the same amount: only the key tells them apart
        db.sessions,
        account_id=m.account_id,
        livemode=False,
        payment_id=paid.id,
        amount=Money(1500, "USD"),
    )
    listed = [
        stripe_refund("re_3Second01", pi, 1500, metadata={"kassa_idempotency_key": second.id})
    ]
    event = stripe_event("charge.refunded", charge(pi, amount_refunded=1500, refunds=listed))
    await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    by_id = {r.id: r for r in await kit.refunds(paid.id)}
    assert (by_id[second.id].status, by_id[second.id].provider_refund_id) == (
        "succeeded",
        "re_3Second01",
    )
    assert by_id[first.id].status == "pending"
    after = await kit.payment(paid.id)
    assert (after.amount_refunded, after.amount_refund_pending) == (1500, 1500)


async def test_a_refund_for_a_payment_still_processing_waits_and_is_retried(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    payment = await kit.processing(m.account_id, "stripe")
    listed = [stripe_refund("re_3Early01", "pi_3Kassa0000000009", 1000)]
    obj = charge("pi_3Kassa0000000009", amount_refunded=1000, refunds=listed)
    obj["metadata"] = {"kassa_idempotency_key": payment.idempotency_key}  # from the intent
    event = stripe_event("charge.refunded", obj)
    row = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert row.status == "failed" and row.error and "still processing" in row.error
    [job] = await kit.jobs()
    assert job.status == "queued" and job.attempts == 1  # retried by the job machinery
    assert await kit.refunds(payment.id) == []


# -- Stripe: disputes ----------------------------------------------------------------------
async def test_a_dispute_is_created_then_closed_lost_with_its_events(
    kit: Kit, db: Backend, client: httpx.AsyncClient
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "stripe")
    pi = paid.provider_payment_id
    assert pi
    opened = stripe_event(
        "charge.dispute.created", stripe_dispute("du_3Kassa01", pi, "needs_response")
    )
    row = await kit.deliver("stripe", opened["type"], opened, account_id=m.account_id)
    [dispute] = await kit.disputes(paid.id)
    assert row.object_id == dispute.id and dispute.id.startswith("dp_")
    assert (dispute.status, dispute.amount, dispute.currency, dispute.reason) == (
        "needs_response",
        10000,
        "USD",
        "fraudulent",
    )
    assert dispute.evidence_due_by is not None and dispute.evidence_due_by.year == 2024
    assert (await kit.payment(paid.id)).dispute_id == dispute.id

    shown = await client.get(f"/v1/payments/{paid.id}", headers=m.auth)
    assert shown.json()["dispute_id"] == dispute.id
    listed = await client.get(f"/v1/disputes?payment_id={paid.id}", headers=m.auth)
    assert [d["id"] for d in listed.json()["data"]] == [dispute.id]
    one = await client.get(f"/v1/disputes/{dispute.id}", headers=m.auth)
    assert one.json()["status"] == "needs_response"
    assert one.json()["amount"] == {"value": "100.00", "currency": "USD"}
    other = await merchant(db.sessions, "Other")
    assert (await client.get(f"/v1/disputes/{dispute.id}", headers=other.auth)).status_code == 404
    assert (await client.get("/v1/disputes", headers=other.auth)).json()["data"] == []
    bad = await client.get("/v1/disputes?status=open", headers=m.auth)
    assert bad.status_code == 400 and bad.json()["param"] == "status"

    await kit.rerun(row.id)  # a repeat changes nothing
    closed = stripe_event("charge.dispute.closed", stripe_dispute("du_3Kassa01", pi, "lost"))
    await kit.deliver("stripe", closed["type"], closed, account_id=m.account_id)
    late = stripe_event("charge.dispute.updated", stripe_dispute("du_3Kassa01", pi, "under_review"))
    await kit.deliver("stripe", late["type"], late, account_id=m.account_id)  # out of order
    [final] = await kit.disputes(paid.id)
    assert final.status == "lost" and final.closed_at is not None
    assert await kit.event_types(dispute.id) == ["dispute.created", "dispute.closed"]
    assert await kit.audit_actions(dispute.id) == ["dispute.created", "dispute.closed"]
    lost = await client.get("/v1/disputes?status=lost", headers=m.auth)
    assert [d["id"] for d in lost.json()["data"]] == [dispute.id]
    assert (await kit.payment(paid.id)).status == "succeeded"  # the chargeback is the dispute's


# -- whose event it is -----------------------------------------------------------------------
async def test_an_event_for_one_accounts_credentials_never_touches_another_account(
    kit: Kit, db: Backend
) -> None:
    a = await merchant(db.sessions, "A")
    b = await merchant(db.sessions, "B")
    theirs = await kit.pay(a.account_id, "stripe")
    pi = theirs.provider_payment_id
    assert pi
    hostile = stripe_event(
        "charge.dispute.created", stripe_dispute("du_3Hostile", pi, "needs_response")
    )
    row = await kit.deliver("stripe", hostile["type"], hostile, account_id=b.account_id)
    assert (row.status, row.object_id, row.account_id) == ("unknown_object", None, b.account_id)
    refund = stripe_event("charge.refunded", charge(pi, amount_refunded=10000, refunds=None))
    row = await kit.deliver("stripe", refund["type"], refund, account_id=b.account_id)
    assert row.status == "unknown_object"
    # An account's credentials without an account recorded look nowhere, not everywhere.
    row = await kit.deliver("stripe", refund["type"], refund, account_id=None)
    assert row.status == "unknown_object"
    untouched = await kit.payment(theirs.id)
    assert (untouched.status, untouched.amount_refunded, untouched.dispute_id) == (
        "succeeded",
        0,
        None,
    )
    assert await kit.disputes(theirs.id) == [] and await kit.refunds(theirs.id) == []
    # The kassa reference alone does not reach across accounts either.
    pending = await kit.processing(a.account_id, "stripe")
    event = stripe_event(
        "payment_intent.succeeded",
        payment_intent("pi_3Kassa0000000077", "succeeded"),
        request={"id": "req_7", "idempotency_key": pending.idempotency_key},
    )
    row = await kit.deliver("stripe", event["type"], event, account_id=b.account_id)
    assert row.status == "unknown_object"
    assert (await kit.payment(pending.id)).status == "processing"


async def test_default_credentials_events_find_the_payment_in_their_mode_and_attribute_it(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "stripe")
    pi = paid.provider_payment_id
    assert pi
    event = stripe_event(
        "charge.dispute.created", stripe_dispute("du_3Default", pi, "needs_response")
    )
    live = await kit.deliver(
        "stripe", event["type"], event, account_id=None, credentials_id=DEFAULT, livemode=True
    )
    assert (live.status, live.account_id) == ("unknown_object", None)  # a test payment
    row = await kit.deliver("stripe", event["type"], event, account_id=None, credentials_id=DEFAULT)
    assert (row.status, row.account_id) == ("processed", m.account_id)
    [dispute] = await kit.disputes(paid.id)
    assert row.object_id == dispute.id


async def test_types_kassa_does_not_act_on_are_ignored_and_unknown_objects_kept(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    event = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    row = await kit.deliver("stripe", event["type"], event, account_id=m.account_id)
    assert (row.status, row.error) == ("ignored", None)
    nobody = stripe_event("payment_intent.succeeded", payment_intent("pi_3Nobody", "succeeded"))
    row = await kit.deliver("stripe", nobody["type"], nobody, account_id=m.account_id)
    assert (row.status, row.payload["id"]) == ("unknown_object", nobody["id"])
    row = await kit.deliver("rise", "payout.paid", {"id": "x"}, account_id=m.account_id)
    assert row.status == "ignored"


async def test_an_unreadable_event_fails_with_a_safe_error_and_is_retried(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    broken = {"id": "evt_broken", "type": "payment_intent.succeeded", "data": {}}
    row = await kit.deliver("stripe", broken["type"], broken, account_id=m.account_id)
    assert row.status == "failed" and row.attempts == 1
    assert row.error == "UnreadableEvent: the event has no data.object with an id"
    assert "Traceback" not in row.error
    [job] = await kit.jobs()
    assert job.status == "queued" and job.attempts == 1  # backoff, then again


# -- PayPal ----------------------------------------------------------------------------------
async def test_paypal_capture_events_settle_deny_and_refund(kit: Kit, db: Backend) -> None:
    m = await merchant(db.sessions)
    payment = await kit.processing(m.account_id, "paypal")
    capture = paypal_capture("3C679366HH908993F", "5O190127TN364715T", "COMPLETED")
    capture["custom_id"] = payment.id  # where the adapter puts kassa's id
    event = paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture)
    row = await kit.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    assert row.status == "processed"
    paid = await kit.payment(payment.id)
    assert (paid.status, paid.provider_payment_id) == ("succeeded", "5O190127TN364715T")

    refund = {
        "id": "1JU08902781691411",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "30.00"},
        "links": [
            {"href": "https://api.paypal.com/v2/payments/refunds/1JU08902781691411", "rel": "self"},
            {"href": "https://api.paypal.com/v2/payments/captures/3C679366HH908993F", "rel": "up"},
        ],
    }
    # The refund names its capture only; the payment is stored under its order id.
    refund["supplementary_data"] = {"related_ids": {"order_id": "5O190127TN364715T"}}
    event = paypal_event("PAYMENT.CAPTURE.REFUNDED", "refund", refund)
    for _ in range(2):
        row = await kit.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    [made] = await kit.refunds(payment.id)
    assert (made.amount, made.provider_refund_id, made.idempotency_key) == (
        3000,
        "1JU08902781691411",
        "paypal:1JU08902781691411",
    )
    assert (await kit.payment(payment.id)).status == "partially_refunded"

    denied_payment = await kit.processing(m.account_id, "paypal")
    denied = paypal_capture("7HG69366HH908993F", "9X190127TN364715T", "DECLINED")
    denied["custom_id"] = denied_payment.id
    event = paypal_event("PAYMENT.CAPTURE.DENIED", "capture", denied)
    await kit.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    failed = await kit.payment(denied_payment.id)
    assert (failed.status, failed.decline_code) == ("failed", "paypal:DECLINED")


async def test_paypal_disputes_and_an_approved_order(kit: Kit, db: Backend) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "paypal")
    capture_id = paid.provider_payment_id
    assert capture_id
    resource = {
        "dispute_id": "PP-D-27803",
        "create_time": "2026-01-28T10:00:00.000Z",
        "update_time": "2026-01-28T10:00:00.000Z",
        "disputed_transactions": [
            {"seller_transaction_id": capture_id, "seller": {"name": "Acme"}}
        ],
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": "WAITING_FOR_SELLER_RESPONSE",
        "dispute_amount": {"currency_code": "USD", "value": "40.00"},
        "dispute_life_cycle_stage": "CHARGEBACK",
        "seller_response_due_date": "2026-02-07T10:00:00.000Z",
    }
    created = paypal_event("CUSTOMER.DISPUTE.CREATED", "dispute", resource)
    await kit.deliver("paypal", created["event_type"], created, account_id=m.account_id)
    [dispute] = await kit.disputes(paid.id)
    assert (dispute.status, dispute.amount, dispute.reason) == (
        "needs_response",
        4000,
        "merchandise_or_service_not_received",
    )
    resolved = dict(resource, status="RESOLVED")
    resolved["dispute_outcome"] = {"outcome_code": "RESOLVED_SELLER_FAVOUR"}
    event = paypal_event("CUSTOMER.DISPUTE.RESOLVED", "dispute", resolved)
    await kit.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    [won] = await kit.disputes(paid.id)
    assert won.status == "won"
    assert await kit.event_types(dispute.id) == ["dispute.created", "dispute.closed"]

    # An approval for a payment that does not wait for its customer (any more) changes nothing.
    order = {"id": "8AB12345CD678901E", "status": "APPROVED", "intent": "CAPTURE"}
    order["purchase_units"] = [{"reference_id": "default", "custom_id": paid.idempotency_key}]
    event = paypal_event("CHECKOUT.ORDER.APPROVED", "checkout-order", order)
    row = await kit.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    assert (row.status, row.object_id, row.error) == ("processed", paid.id, None)


async def test_a_paypal_dispute_naming_the_capture_finds_the_payment_by_kassas_key(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "paypal")  # stored under its order id
    resource = {
        "dispute_id": "PP-D-27804",
        "disputed_transactions": [
            {
                "seller_transaction_id": "3C679366HH908993F",  # the capture, unknown to kassa
                "custom": paid.idempotency_key,  # the custom_id kassa's adapter sent
                "invoice_number": paid.idempotency_key,
            }
        ],
        "reason": "UNAUTHORISED",
        "status": "OPEN",
        "dispute_amount": {"currency_code": "USD", "value": "100.00"},
    }
    event = paypal_event("CUSTOMER.DISPUTE.CREATED", "dispute", resource)
    row = await kit.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    [dispute] = await kit.disputes(paid.id)
    assert (row.status, row.object_id, dispute.status) == (
        "processed",
        dispute.id,
        "needs_response",
    )
    other = await merchant(db.sessions, "Other")  # the key reaches no other account
    hostile = paypal_event("CUSTOMER.DISPUTE.CREATED", "dispute", dict(resource, dispute_id="PP-X"))
    row = await kit.deliver("paypal", hostile["event_type"], hostile, account_id=other.account_id)
    assert row.status == "unknown_object"


async def test_events_for_a_payment_waiting_for_its_customer_go_to_its_confirmation(
    db: Backend, tmp_path: Path
) -> None:
    calls: list[tuple[str, str]] = []

    async def complete(_: object, payment_id: str, trigger: str) -> None:
        calls.append((payment_id, trigger))

    kit = make_kit(db, tmp_path, complete_action=complete)
    bare = make_kit(db, tmp_path)
    m = await merchant(db.sessions)
    waiting = await kit.pay(m.account_id, "paypal")
    async with transaction(db.sessions) as session:  # as the requires_action work leaves it
        await session.execute(
            update(Payment).where(Payment.id == waiting.id).values(status="requires_action")
        )
    order = {"id": waiting.provider_payment_id, "status": "APPROVED", "intent": "CAPTURE"}
    event = paypal_event("CHECKOUT.ORDER.APPROVED", "checkout-order", order)
    row = await kit.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    assert (row.status, row.object_id) == ("processed", waiting.id)
    assert calls == [(waiting.id, "webhook:CHECKOUT.ORDER.APPROVED")]
    row = await bare.deliver("paypal", event["event_type"], event, account_id=m.account_id)
    assert (row.status, row.object_id) == ("ignored", waiting.id)
    assert row.error and "not available" in row.error
    assert len(calls) == 1


# -- Braintree (notifications made by its SDK's WebhookTesting) ------------------------------
async def test_braintree_settlement_and_settlement_declined(kit: Kit, db: Backend) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "braintree")
    txn = paid.provider_payment_id
    assert txn
    settled = braintree_payload("transaction_settled", txn)
    row = await kit.deliver("braintree", settled["kind"], settled, account_id=m.account_id)
    assert (row.status, row.error) == ("processed", None)  # succeeded already: agrees
    declined = braintree_payload("transaction_settlement_declined", txn)
    row = await kit.deliver("braintree", declined["kind"], declined, account_id=m.account_id)
    assert row.status == "processed" and row.error and "settlement_declined" in row.error
    after = await kit.payment(paid.id)
    assert (after.status, after.failure_code) == ("succeeded", "settlement_declined")
    assert (await kit.audit_actions(paid.id))[-1] == "payment.settlement_declined"
    await kit.rerun(row.id)
    assert (await kit.audit_actions(paid.id)).count("payment.settlement_declined") == 1


async def test_braintree_dispute_lifecycle_opened_then_won(kit: Kit, db: Backend) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "braintree")
    txn = paid.provider_payment_id
    assert txn
    opened = braintree_payload("dispute_opened", txn)  # the SDK's sample: dispute id = txn id
    row = await kit.deliver("braintree", opened["kind"], opened, account_id=m.account_id)
    [dispute] = await kit.disputes(paid.id)
    assert row.object_id == dispute.id
    assert (dispute.status, dispute.amount, dispute.reason) == ("needs_response", 10000, "fraud")
    assert dispute.evidence_due_by is not None and dispute.evidence_due_by.isoformat()[:10] == (
        "2016-02-22"
    )
    won = braintree_payload("dispute_won", txn)
    await kit.deliver("braintree", won["kind"], won, account_id=m.account_id)
    lost = braintree_payload("dispute_lost", txn)  # final stays final
    await kit.deliver("braintree", lost["kind"], lost, account_id=m.account_id)
    [final] = await kit.disputes(paid.id)
    assert final.status == "won"
    assert await kit.event_types(dispute.id) == ["dispute.created", "dispute.closed"]


async def test_braintree_dispute_lost_before_opened_is_created_closed(
    kit: Kit, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = await kit.pay(m.account_id, "braintree")
    txn = paid.provider_payment_id
    assert txn
    lost = braintree_payload("dispute_lost", txn)
    await kit.deliver("braintree", lost["kind"], lost, account_id=m.account_id)
    opened = braintree_payload("dispute_opened", txn)
    await kit.deliver("braintree", opened["kind"], opened, account_id=m.account_id)
    [dispute] = await kit.disputes(paid.id)
    assert dispute.status == "lost"
    assert await kit.event_types(dispute.id) == ["dispute.created", "dispute.closed"]


async def test_the_job_is_registered_by_the_composition_root(db: Backend, tmp_path: Path) -> None:
    from kassa import composition
    from kassa.jobs.registry import JOBS

    composition.build(db.settings(tmp_path))
    spec = JOBS.get("payins.apply_provider_event")
    assert spec is not None and spec.max_attempts == 10
