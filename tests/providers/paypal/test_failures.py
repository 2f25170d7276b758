"""PayPal's failures as kassa's error tree: 5xx and 429 transient, a timeout after sending
ambiguous (and settled by the same call with the same PayPal-Request-Id)."""

from __future__ import annotations

import pytest

from kassa.core.money import Money
from kassa.providers.base import (
    CaptureRequest,
    PaymentLookup,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.paypal import PayPalProvider
from tests.fakes.paypal import FakePayPal, Fault
from tests.providers.paypal.conftest import TIMEOUT, approved, charge


async def test_a_500_is_transient_and_not_ambiguous(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    fake.fail(Fault(kind="status", path="/v2/checkout/orders", status=500))
    with pytest.raises(TransientProviderError) as info:
        await paypal.authorize(charge("pay_500", 1000))
    assert info.value.code == "provider_down" and not info.value.ambiguous
    assert "INTERNAL_SERVER_ERROR" in info.value.message
    assert fake.ledger.orders == {}
    made = await paypal.authorize(charge("pay_500", 1000))  # retried with the same key
    assert made.status == "requires_action" and len(fake.ledger.orders) == 1


async def test_a_429_is_rate_limited_with_its_retry_after(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    fake.fail(Fault(kind="status", path="/v2/checkout/orders", status=429))
    with pytest.raises(RateLimitedError) as info:
        await paypal.authorize(charge("pay_429", 1000))
    assert info.value.retry_after == 1.0


async def test_a_hang_before_paypal_acted_is_an_ambiguous_timeout(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    held = await approved(paypal, fake, charge("pay_hang", 5000, capture=False))
    fake.fail(Fault(kind="hang", path="/capture", seconds=TIMEOUT * 4))
    capture = CaptureRequest("pay_hang/capture", held.provider_payment_id, Money(5000, "USD"))
    with pytest.raises(TransientProviderError) as info:
        await paypal.capture(capture)
    assert info.value.code == "timeout" and info.value.ambiguous


async def test_a_timeout_after_paypal_acted_is_settled_by_the_same_key(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    held = await approved(paypal, fake, charge("pay_late", 5000, capture=False))
    fake.fail(Fault(kind="hang_after", path="/capture", seconds=TIMEOUT * 4))
    capture = CaptureRequest("pay_late/capture", held.provider_payment_id, Money(2000, "USD"))
    with pytest.raises(TransientProviderError) as info:
        await paypal.capture(capture)
    assert info.value.ambiguous
    assert len(fake.ledger.captures) == 1  # PayPal captured although kassa heard nothing
    done = await paypal.capture(capture)
    assert done.amount_captured == Money(2000, "USD") and len(fake.ledger.captures) == 1


async def test_a_read_that_times_out_is_not_ambiguous(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    made = await paypal.authorize(charge("pay_slowread", 1000))
    fake.fail(Fault(kind="hang", path="/v2/checkout/orders/", method="GET", seconds=TIMEOUT * 4))
    with pytest.raises(TransientProviderError) as info:
        await paypal.retrieve(PaymentLookup("pay_slowread/authorize", made.provider_payment_id))
    assert info.value.code == "timeout" and not info.value.ambiguous


async def test_paypal_unreachable_is_transient(fake: FakePayPal) -> None:
    from kassa.providers.paypal import PayPalClient

    client = PayPalClient(
        provider="paypal", client_id="x", client_secret="y", api_base="http://127.0.0.1:9"
    )
    try:
        with pytest.raises(TransientProviderError) as info:
            await PayPalProvider("paypal", client).authorize(charge("pay_down", 1000))
    finally:
        await client.aclose()
    assert info.value.code == "provider_down" and not info.value.ambiguous
