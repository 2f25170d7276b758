"""PayPal payments end to end against the stand-in: the buyer's approval, authorize and
capture part, refunds, replays of the same PayPal-Request-Id, declines."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ConfirmRequest,
    DeclinedError,
    PaymentLookup,
    PaymentMethodRequest,
    PermanentProviderError,
    RefundRequest,
    TransientProviderError,
)
from kassa.providers.paypal import PayPalProvider
from tests.fakes.paypal import DECLINING_BUYER, FakePayPal, Fault
from tests.providers.paypal.conftest import TIMEOUT, approved, charge


def usd(minor: int) -> Money:
    return Money(minor, "USD")


async def test_the_buyer_approves_at_paypal_then_kassa_captures(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    request = charge("pay_flow1", 2599)
    waiting = await paypal.authorize(request)
    assert waiting.status == "requires_action" and waiting.amount_captured == usd(0)
    assert waiting.next_action is not None and waiting.next_action.type == "redirect_to_url"
    assert (
        waiting.next_action.redirect_url
        == f"{fake.url}/web/checkoutnow?token={waiting.provider_payment_id}"
    )
    order = fake.ledger.orders[waiting.provider_payment_id]
    assert order.intent == "CAPTURE" and order.unit["amount"] == {
        "currency_code": "USD",
        "value": "25.99",
    }
    assert order.unit["custom_id"] == request.idempotency_key
    assert order.wallet is not None
    assert order.wallet["experience_context"]["return_url"] == "https://shop.example/return"

    confirm = ConfirmRequest("pay_flow1/confirm", waiting.provider_payment_id, request.amount)
    assert (await paypal.confirm(confirm)).status == "requires_action"  # not approved yet
    await fake.approve(waiting.provider_payment_id)
    done = await paypal.confirm(confirm)
    assert done.status == "succeeded" and done.amount_captured == usd(2599)
    assert done.method is not None and done.method.wallet == "paypal"
    again = await paypal.confirm(confirm)  # the return URL and the webhook both confirm
    assert again.status == "succeeded"
    assert len(fake.ledger.captures) == 1


async def test_every_write_carries_the_idempotency_key(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    held = await approved(paypal, fake, charge("pay_keys", 5000, capture=False))
    await paypal.capture(CaptureRequest("pay_keys/capture", held.provider_payment_id, usd(1000)))
    await paypal.refund(RefundRequest("re_keys1", held.provider_payment_id, usd(500)))
    writes = [c for c in fake.calls if c.method == "POST" and c.path != "/v1/oauth2/token"]
    assert [c.request_id for c in writes] == [
        "pay_keys/authorize",
        "pay_keys/confirm",
        "pay_keys/capture",
        "re_keys1",
    ]


async def test_a_repeated_request_id_never_acts_twice(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    request = charge("pay_replay", 4000, capture=False)
    first = await paypal.authorize(request)
    assert (await paypal.authorize(request)).provider_payment_id == first.provider_payment_id
    assert len(fake.ledger.orders) == 1
    held = await approved(paypal, fake, request)
    capture = CaptureRequest("pay_replay/capture", held.provider_payment_id, usd(4000))
    one = await paypal.capture(capture)
    two = await paypal.capture(capture)
    assert one == two and len(fake.ledger.captures) == 1
    refund = RefundRequest("re_replay", held.provider_payment_id, usd(1500))
    assert (await paypal.refund(refund)) == (await paypal.refund(refund))
    assert len(fake.ledger.refunds) == 1


async def test_part_of_an_authorization_is_captured_and_the_rest_released(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    held = await approved(paypal, fake, charge("pay_part", 10000, capture=False))
    assert held.status == "requires_capture" and held.amount == usd(10000)
    captured = await paypal.capture(
        CaptureRequest("pay_part/capture", held.provider_payment_id, usd(6550))
    )
    assert captured.status == "succeeded"
    assert captured.amount == usd(10000) and captured.amount_captured == usd(6550)
    (authorization,) = fake.ledger.authorizations.values()
    (made,) = fake.ledger.captures.values()
    assert authorization["status"] == "CAPTURED"  # final: the rest is released
    assert made["amount"]["value"] == "65.50" and made["final_capture"] is True
    found = await paypal.retrieve(PaymentLookup("pay_part/authorize", held.provider_payment_id))
    assert found is not None and found.status == "succeeded"
    assert found.amount_captured == usd(6550) and found.amount_refunded == usd(0)


async def test_refunds_in_parts_until_nothing_is_left(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    paid = await approved(paypal, fake, charge("pay_refunds", 3000))
    first = await paypal.refund(RefundRequest("re_p1", paid.provider_payment_id, usd(1000)))
    second = await paypal.refund(RefundRequest("re_p2", paid.provider_payment_id, usd(1500)))
    assert first.status == second.status == "succeeded"
    assert first.provider_refund_id != second.provider_refund_id
    with pytest.raises(PermanentProviderError) as info:
        await paypal.refund(RefundRequest("re_p3", paid.provider_payment_id, usd(501)))
    assert "REFUND_AMOUNT_EXCEEDED" in info.value.message
    last = await paypal.refund(RefundRequest("re_p4", paid.provider_payment_id, usd(500)))
    assert last.amount == usd(500)
    found = await paypal.retrieve(PaymentLookup("pay_refunds/authorize", paid.provider_payment_id))
    assert found is not None and found.amount_refunded == usd(3000)
    (capture,) = fake.ledger.captures.values()
    assert capture["status"] == "REFUNDED"


async def test_a_declined_instrument_is_a_decline_with_paypals_issue(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    request = charge("pay_declined", 1200, token=f"paypal:{DECLINING_BUYER}")
    with pytest.raises(DeclinedError) as info:
        await approved(paypal, fake, request)
    assert info.value.decline_code == "paypal:UNPROCESSABLE_ENTITY/INSTRUMENT_DECLINED"
    assert info.value.provider_payment_id is not None and not info.value.soft
    assert fake.ledger.captures == {}  # nothing was taken


async def test_a_capture_the_processor_declines_is_failed(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    fake.fail(Fault(kind="capture_declined", path="/capture"))
    request = charge("pay_denied", 1800)
    with pytest.raises(DeclinedError) as info:
        await approved(paypal, fake, request)
    assert info.value.decline_code == "paypal:DECLINED/5120"
    found = await paypal.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "failed"
    assert found.decline_code == "paypal:DECLINED/5120" and found.amount_captured == usd(0)


async def test_an_authorization_is_voided_and_an_unapproved_order_needs_no_call(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    held = await approved(paypal, fake, charge("pay_void", 2000, capture=False))
    cancel = CancelRequest("pay_void/cancel", held.provider_payment_id)
    assert (await paypal.cancel(cancel)).status == "canceled"
    assert (await paypal.cancel(cancel)).status == "canceled"  # voided already: still canceled
    (authorization,) = fake.ledger.authorizations.values()
    assert authorization["status"] == "VOIDED"
    found = await paypal.retrieve(PaymentLookup("pay_void/authorize", held.provider_payment_id))
    assert found is not None and found.status == "canceled"

    waiting = await paypal.authorize(charge("pay_never", 2000))
    calls = len(fake.calls)
    gone = await paypal.cancel(CancelRequest("pay_never/cancel", waiting.provider_payment_id))
    assert gone.status == "canceled"
    assert [c.method for c in fake.calls[calls:]] == ["GET"]  # read, nothing to void


async def test_a_captured_order_is_not_canceled(paypal: PayPalProvider, fake: FakePayPal) -> None:
    paid = await approved(paypal, fake, charge("pay_nocancel", 2000))
    with pytest.raises(PermanentProviderError):
        await paypal.cancel(CancelRequest("pay_nocancel/cancel", paid.provider_payment_id))


async def test_a_key_paypal_never_received_is_not_found_and_stays_spent(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    assert await paypal.retrieve(PaymentLookup("pay_lost/authorize")) is None
    (probe,) = fake.ledger.orders.values()
    assert probe.status == "CREATED" and probe.buyer is None  # nobody can approve it
    with pytest.raises(PermanentProviderError) as info:
        await paypal.authorize(charge("pay_lost", 1000))
    assert info.value.code == "idempotency_mismatch"


async def test_amounts_are_exact_in_whole_unit_currencies(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    request = replace(charge("pay_yen", 1500), amount=Money(1500, "JPY"))
    waiting = await paypal.authorize(request)
    assert fake.ledger.orders[waiting.provider_payment_id].value == Decimal(1500)
    huf = replace(charge("pay_huf", 0), amount=Money(150050, "HUF"))
    with pytest.raises(PermanentProviderError):  # PayPal takes no forint fractions
        await paypal.authorize(huf)
    made = await paypal.authorize(replace(huf, amount=Money(150000, "HUF")))
    assert fake.ledger.orders[made.provider_payment_id].unit["amount"]["value"] == "1500"
    assert made.amount == Money(150000, "HUF")


async def test_payment_methods_are_paypal_wallets(paypal: PayPalProvider) -> None:
    found = await paypal.create_payment_method(PaymentMethodRequest("pm_x/create", "paypal"))
    assert found.details.type == "wallet" and found.details.wallet == "paypal"
    with pytest.raises(PermanentProviderError) as info:
        await paypal.create_payment_method(PaymentMethodRequest("pm_y/create", "tok_visa"))
    assert info.value.code == "invalid_payment_method"


async def test_the_same_key_with_another_amount_is_refused(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    await paypal.authorize(charge("pay_twokeys", 1000))
    # PayPal answers a known request id with its first order, whatever the body: kassa checks.
    with pytest.raises(PermanentProviderError) as info:
        await paypal.authorize(charge("pay_twokeys", 9000))
    assert info.value.code == "idempotency_mismatch"
    assert len(fake.ledger.orders) == 1


async def test_an_order_whose_answer_was_lost_is_found_by_its_key(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    fake.fail(Fault(kind="hang_after", path="/v2/checkout/orders", seconds=TIMEOUT * 4))
    request = charge("pay_lostanswer", 1000)
    with pytest.raises(TransientProviderError) as info:
        await paypal.authorize(request)
    assert info.value.ambiguous
    (made,) = fake.ledger.orders  # PayPal made it; kassa never heard its id
    found = await paypal.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.provider_payment_id == made
    assert found.status == "requires_action" and found.amount == usd(1000)
    assert len(fake.ledger.orders) == 1  # the lookup made nothing new


async def test_minimal_answers_are_read_in_full(paypal: PayPalProvider, fake: FakePayPal) -> None:
    fake.minimal_answers = True  # PayPal's default answer: id, status and links only
    held = await approved(paypal, fake, charge("pay_minimal", 3000, capture=False))
    assert held.status == "requires_capture" and held.amount == usd(3000)
    done = await paypal.capture(
        CaptureRequest("pay_minimal/capture", held.provider_payment_id, usd(1000))
    )
    assert done.amount_captured == usd(1000)
    refund = await paypal.refund(RefundRequest("re_minimal", held.provider_payment_id, usd(400)))
    assert refund.status == "succeeded" and refund.amount == usd(400)
