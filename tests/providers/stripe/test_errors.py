"""Stripe's failures as kassa's error tree: declines with their codes, timeouts, 5xx, 429,
refused keys, and the idempotency errors Stripe gives through the SDK."""

from __future__ import annotations

import asyncio

import pytest

from kassa.providers.base import (
    DeclinedError,
    PaymentLookup,
    PermanentProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.stripe import StripeProvider
from tests.fakes.stripe import FakeStripe
from tests.providers.stripe.conftest import charge, eventually, key


@pytest.mark.parametrize(
    ("token", "decline_code", "advice", "network", "soft"),
    [
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
            "try_again_later",
            "51",
            True,
        ),
        ("pm_card_chargeDeclinedLostCard", "lost_card", "do_not_try_again", "41", False),
        ("pm_card_chargeDeclined", "generic_decline", None, None, True),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", None, "54", False),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", None, None, False),
    ],
)
async def test_a_decline_keeps_stripes_codes(
    stripe_provider: StripeProvider,
    token: str,
    decline_code: str,
    advice: str | None,
    network: str | None,
    soft: bool,
) -> None:
    request = charge(token)
    with pytest.raises(DeclinedError) as info:
        await stripe_provider.authorize(request)
    error = info.value
    assert (error.decline_code, error.advice_code, error.network_decline_code) == (
        decline_code,
        advice,
        network,
    )
    assert error.soft is soft
    assert error.provider_payment_id and error.provider_payment_id.startswith("pi_")
    assert error.method is not None and error.method.brand == "visa"
    # Stripe kept the declined intent: the lookup by key says so, and never charges.
    found = await stripe_provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "failed"
    assert found.decline_code == decline_code
    assert found.provider_payment_id == error.provider_payment_id


async def test_the_same_key_is_answered_from_stripes_store(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    request = charge()
    first = await stripe_provider.authorize(request)
    again = await stripe_provider.authorize(request)
    assert again.provider_payment_id == first.provider_payment_id
    assert fake.replays == [request.idempotency_key]
    assert len(fake.state.intents) == 1


async def test_the_same_key_with_another_amount_is_refused(stripe_provider: StripeProvider) -> None:
    request = charge(minor=2000)
    await stripe_provider.authorize(request)
    with pytest.raises(PermanentProviderError) as info:
        await stripe_provider.authorize(charge(minor=2500, idempotency_key=request.idempotency_key))
    assert info.value.code == "idempotency_mismatch"


async def test_a_declines_answer_is_replayed_too(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    request = charge("pm_card_chargeDeclinedInsufficientFunds")
    with pytest.raises(DeclinedError) as first:
        await stripe_provider.authorize(request)
    with pytest.raises(DeclinedError) as again:
        await stripe_provider.authorize(request)
    assert again.value.provider_payment_id == first.value.provider_payment_id
    assert len(fake.state.intents) == 1


async def test_a_key_still_in_flight_is_ambiguous(
    impatient: StripeProvider, fake: FakeStripe
) -> None:
    request = charge()
    fake.fail_next(1, "stall")  # Stripe holds the first request before executing it
    first = asyncio.create_task(impatient.authorize(request))
    await eventually(lambda: len(fake.requests) == 1)
    with pytest.raises(TransientProviderError) as info:
        await impatient.authorize(request)
    assert info.value.ambiguous and info.value.code == "idempotency_key_in_use"
    with pytest.raises(TransientProviderError):
        await first  # the adapter gave up waiting; Stripe carries the request out anyway
    await eventually(lambda: len(fake.state.intents) == 1)
    found = await impatient.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "succeeded"


async def test_a_timeout_after_sending_is_ambiguous_and_the_key_finds_the_charge(
    impatient: StripeProvider, fake: FakeStripe
) -> None:
    request = charge()
    fake.fail_next(1, "hang")  # carried out, then the answer is held past the timeout
    with pytest.raises(TransientProviderError) as info:
        await impatient.authorize(request)
    assert info.value.ambiguous and info.value.code == "timeout"
    assert not isinstance(info.value, RateLimitedError)
    found = await impatient.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "succeeded"
    again = await impatient.authorize(request)  # the retry is Stripe's stored answer
    assert again.provider_payment_id == found.provider_payment_id
    assert len(fake.state.intents) == 1


async def test_no_connection_is_transient_and_not_ambiguous() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = StripeProvider(secret_key="sk_test_x", api_base=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientProviderError) as info:
        await provider.authorize(charge())
    assert not info.value.ambiguous and info.value.code == "provider_down"
    await provider.aclose()


async def test_a_500_before_execution_is_transient_and_may_fail_over(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    fake.fail_next(1, "500")  # Stripe-Should-Retry: true, nothing kept
    with pytest.raises(TransientProviderError) as info:
        await stripe_provider.authorize(charge())
    assert not info.value.ambiguous and info.value.code == "provider_down"
    assert fake.state.intents == {}
    paid = await stripe_provider.authorize(charge())  # Stripe is back
    assert paid.status == "succeeded"


async def test_a_500_after_execution_is_ambiguous_and_the_key_tells(
    stripe_provider: StripeProvider, fake: FakeStripe
) -> None:
    request = charge()
    fake.fail_next(1, "500_executed")
    with pytest.raises(TransientProviderError) as info:
        await stripe_provider.authorize(request)
    assert info.value.ambiguous  # never failed over: Stripe may have charged
    found = await stripe_provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "succeeded"
    fake.fail_next(1, "500")
    with pytest.raises(TransientProviderError) as read:
        await stripe_provider.retrieve(PaymentLookup(key()))
    assert not read.value.ambiguous


async def test_a_429_is_a_rate_limit(stripe_provider: StripeProvider, fake: FakeStripe) -> None:
    fake.fail_next(1, "429")
    with pytest.raises(RateLimitedError):
        await stripe_provider.authorize(charge())
    assert fake.state.intents == {}


async def test_a_refused_key_is_permanent_and_never_echoed(fake: FakeStripe) -> None:
    secret = "sk_test_wrong_key_0123456789"
    provider = StripeProvider(secret_key=secret, api_base=fake.base_url)
    with pytest.raises(PermanentProviderError) as info:
        await provider.authorize(charge())
    assert info.value.code == "provider_authentication_failed"
    assert "0123456789" not in info.value.message and secret not in repr(provider)
    await provider.aclose()


async def test_an_unknown_payment_method_is_named(stripe_provider: StripeProvider) -> None:
    with pytest.raises(PermanentProviderError) as info:
        await stripe_provider.authorize(charge("pm_does_not_exist"))
    assert info.value.code == "invalid_payment_method"
