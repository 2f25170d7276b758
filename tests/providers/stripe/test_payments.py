"""The Stripe adapter's payments against the stand-in: what it sends, 3-D Secure through
requires_action, captures and refunds, currencies whose units are not ISO's, lookups."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kassa.core.money import Money
from kassa.providers.base import (
    CaptureRequest,
    ConfirmRequest,
    DeclinedError,
    PaymentLookup,
    PaymentMethodRequest,
    PermanentProviderError,
    RefundRequest,
)
from kassa.providers.stripe import STRIPE_API_VERSION, StripeProvider
from tests.fakes.stripe import TEST_KEY, FakeStripe
from tests.providers.stripe.conftest import charge, key

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def posts(fake: FakeStripe) -> list[dict[str, object]]:
    return [r for r in fake.requests if r["method"] == "POST"]


def test_kassa_speaks_the_api_version_its_sdk_pins() -> None:
    from stripe._api_version import _ApiVersion

    assert STRIPE_API_VERSION == _ApiVersion.CURRENT


async def test_every_write_carries_kassas_key_and_version(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    request = charge(capture=False)
    held = await stripe_provider.authorize(request)
    await stripe_provider.capture(
        CaptureRequest(key("capture"), held.provider_payment_id, Money(2000, "USD"))
    )
    await stripe_provider.refund(
        RefundRequest(
            key("refund"), held.provider_payment_id, Money(500, "USD"), "requested_by_customer"
        )
    )
    sent = posts(fake)
    assert len(sent) == 3
    for call in sent:
        headers = call["headers"]
        assert isinstance(headers, dict)
        assert headers["Idempotency-Key"].startswith("pay_")
        assert headers["Stripe-Version"] == STRIPE_API_VERSION
    create = sent[0]["params"]
    assert isinstance(create, dict)
    assert create["capture_method"] == "manual" and create["confirm"] == "true"
    # 2023-08-16: without a return_url, redirects must be ruled out or Stripe refuses.
    assert create["automatic_payment_methods"] == {"enabled": "true", "allow_redirects": "never"}
    assert create["metadata"] == {"kassa_idempotency_key": request.idempotency_key}


async def test_a_charge_captures_explicitly_not_by_stripes_default(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    await stripe_provider.authorize(charge(return_url="https://shop.example/back"))
    params = posts(fake)[0]["params"]
    assert isinstance(params, dict)
    assert params["capture_method"] == "automatic"  # not 2024-04-10's automatic_async
    assert params["return_url"] == "https://shop.example/back"
    assert "automatic_payment_methods" not in params


async def test_three_d_secure_without_return_url_is_finished_with_stripe_js(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    request = charge("pm_card_authenticationRequired")
    waiting = await stripe_provider.authorize(request)
    assert waiting.status == "requires_action" and waiting.next_action is not None
    assert waiting.next_action.type == "use_sdk"
    intent = fake.state.intents[waiting.provider_payment_id]
    assert waiting.next_action.client_secret == intent["client_secret"]
    confirm = ConfirmRequest(key("confirm"), waiting.provider_payment_id, request.amount)
    assert (await stripe_provider.confirm(confirm)).status == "requires_action"
    await fake.complete_three_d_secure(waiting.provider_payment_id)
    done = await stripe_provider.confirm(confirm)
    assert done.status == "succeeded" and done.amount_captured == request.amount
    assert done.next_action is None and done.method is not None and done.method.last4 == "3184"


async def test_three_d_secure_with_return_url_is_a_redirect(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    waiting = await stripe_provider.authorize(
        charge("pm_card_threeDSecure2Required", capture=False, return_url="https://shop.example/r")
    )
    assert waiting.next_action is not None and waiting.next_action.type == "redirect_to_url"
    assert waiting.next_action.redirect_url == f"{fake.base_url}/_3ds/{waiting.provider_payment_id}"
    await fake.complete_three_d_secure(waiting.provider_payment_id)
    held = await stripe_provider.confirm(
        ConfirmRequest(
            key("confirm"), waiting.provider_payment_id, Money(2000, "USD"), capture=False
        )
    )
    assert held.status == "requires_capture" and held.amount_captured == Money(0, "USD")


async def test_a_failed_challenge_is_a_decline(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    waiting = await stripe_provider.authorize(charge("pm_card_authenticationRequired"))
    await fake.complete_three_d_secure(waiting.provider_payment_id, success=False)
    with pytest.raises(DeclinedError) as info:
        await stripe_provider.confirm(
            ConfirmRequest(key("confirm"), waiting.provider_payment_id, Money(2000, "USD"))
        )
    assert info.value.decline_code == "payment_intent_authentication_failure"


async def test_a_card_declined_after_authentication(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    waiting = await stripe_provider.authorize(
        charge("pm_card_authenticationRequiredChargeDeclinedInsufficientFunds")
    )
    await fake.complete_three_d_secure(waiting.provider_payment_id)
    with pytest.raises(DeclinedError) as info:
        await stripe_provider.confirm(
            ConfirmRequest(key("confirm"), waiting.provider_payment_id, Money(2000, "USD"))
        )
    assert info.value.decline_code == "insufficient_funds" and info.value.soft


async def test_partial_capture_and_refunds_as_stripe_records_them(
    stripe_provider: StripeProvider,
) -> None:
    held = await stripe_provider.authorize(charge(minor=5000, capture=False))
    captured = await stripe_provider.capture(
        CaptureRequest(key("capture"), held.provider_payment_id, Money(3000, "USD"))
    )
    assert captured.amount == Money(5000, "USD") and captured.amount_captured == Money(3000, "USD")
    for minor in (1000, 500):
        await stripe_provider.refund(
            RefundRequest(key("refund"), held.provider_payment_id, Money(minor, "USD"))
        )
    found = await stripe_provider.retrieve(PaymentLookup(key(), held.provider_payment_id))
    assert found is not None and found.status == "succeeded"
    assert found.amount_captured == Money(3000, "USD")
    assert found.amount_refunded == Money(1500, "USD")
    with pytest.raises(PermanentProviderError) as info:  # 1500 is left of the 3000 captured
        await stripe_provider.refund(
            RefundRequest(key("refund"), held.provider_payment_id, Money(1600, "USD"))
        )
    assert info.value.code == "provider_rejected"


async def test_a_reason_stripe_does_not_know_goes_into_metadata(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    paid = await stripe_provider.authorize(charge())
    await stripe_provider.refund(
        RefundRequest(
            key("refund"), paid.provider_payment_id, Money(100, "USD"), "damaged in transit"
        )
    )
    params = posts(fake)[-1]["params"]
    assert isinstance(params, dict) and "reason" not in params
    assert params["metadata"]["kassa_reason"] == "damaged in transit"


@pytest.mark.parametrize(
    ("money", "sent"),
    [
        (Money(500, "JPY"), 500),  # zero-decimal at ISO and at Stripe
        (Money(1500, "MGA"), 15),  # ISO two-decimal, Stripe zero-decimal
        (Money(1000, "ISK"), 100000),  # ISO zero-decimal, Stripe two-decimal
        (Money(12340, "KWD"), 12340),  # three-decimal, last digit 0
        (Money(1999, "EUR"), 1999),
    ],
)
async def test_amounts_go_out_in_stripes_units(
    stripe_provider: StripeProvider, fake: FakeStripe, money: Money, sent: int
) -> None:
    paid = await stripe_provider.authorize(charge(minor=money.minor, currency=money.currency))
    params = posts(fake)[0]["params"]
    assert isinstance(params, dict)
    assert params["amount"] == str(sent) and params["currency"] == money.currency.lower()
    assert paid.amount == money and paid.amount_captured == money


@pytest.mark.parametrize("money", [Money(150, "MGA"), Money(1234, "KWD")])
async def test_an_amount_stripe_cannot_take_is_refused_before_sending(
    stripe_provider: StripeProvider, fake: FakeStripe, money: Money
) -> None:
    with pytest.raises(PermanentProviderError):
        await stripe_provider.authorize(charge(minor=money.minor, currency=money.currency))
    assert fake.requests == []


async def test_the_lookup_by_key_survives_search_lag(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    fake.state.search_lag = 120.0  # the new intent is not searchable yet
    request = charge()
    paid = await stripe_provider.authorize(request)
    before = len(posts(fake))
    found = await stripe_provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.provider_payment_id == paid.provider_payment_id
    assert len(posts(fake)) == before  # a lookup never writes
    paths = [r["path"] for r in fake.requests if r["method"] == "GET"]
    assert "/v1/payment_intents/search" in paths and "/v1/payment_intents" in paths


async def test_an_unknown_intent_is_not_found(stripe_provider: StripeProvider) -> None:
    assert await stripe_provider.retrieve(PaymentLookup(key(), "pi_unknown")) is None


async def test_a_saved_method_can_be_charged_again(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    saved = await stripe_provider.create_payment_method(
        PaymentMethodRequest(key("payment_method"), "pm_card_mastercard")
    )
    customer, _, method = saved.token.partition(":")
    assert customer.startswith("cus_") and method.startswith("pm_")
    assert (saved.details.brand, saved.details.last4) == ("mastercard", "4444")
    assert saved.details.exp_month and saved.details.exp_year
    assert fake.state.payment_methods[method]["customer"] == customer
    for _ in range(2):
        assert (await stripe_provider.authorize(charge(saved.token))).status == "succeeded"
    await stripe_provider.detach_payment_method(saved.token, key("detach"))
    with pytest.raises(PermanentProviderError) as info:
        await stripe_provider.authorize(charge(saved.token))
    assert info.value.code == "invalid_payment_method"


async def test_a_bare_method_is_charged_once_only(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    made = await stripe_provider.authorize(charge())
    used = fake.state.intents[made.provider_payment_id]["payment_method"]
    with pytest.raises(PermanentProviderError) as info:
        await stripe_provider.authorize(charge(used))
    assert info.value.code == "invalid_payment_method"


async def test_an_unknown_token_is_an_invalid_payment_method(
    stripe_provider: StripeProvider,
) -> None:
    with pytest.raises(PermanentProviderError) as info:
        await stripe_provider.create_payment_method(PaymentMethodRequest(key(), "pm_nope"))
    assert info.value.code == "invalid_payment_method"


async def test_an_intent_left_unconfirmed_is_confirmed_with_the_key(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=AUTH) as http:
        made = await http.post(
            "/v1/payment_intents",
            data={
                "amount": "1200",
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "payment_method_types[0]": "card",
            },
        )
    intent = made.json()
    assert intent["status"] == "requires_confirmation"
    confirm = ConfirmRequest(key("confirm"), intent["id"], Money(1200, "USD"))
    done = await stripe_provider.confirm(confirm)
    assert done.status == "succeeded" and done.amount_captured == Money(1200, "USD")
    assert posts(fake)[-1]["headers"]["Idempotency-Key"] == confirm.idempotency_key


async def test_one_adapter_serves_several_event_loops(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    """A worker thread with its own loop (a CLI command, a test) gets its own SDK client."""

    async def pay() -> str:
        try:
            return (await stripe_provider.authorize(charge())).status
        finally:
            await stripe_provider.aclose()  # that loop's connections

    def in_another_loop() -> str:
        return asyncio.run(pay())

    assert await asyncio.to_thread(in_another_loop) == "succeeded"
    assert (await stripe_provider.authorize(charge())).status == "succeeded"
