"""The OAuth2 token: fetched once, reused, replaced before it expires and once when PayPal
says it is no longer valid; bad credentials are a clear, secret-free refusal."""

from __future__ import annotations

import pytest

from kassa.providers.base import PaymentLookup, PermanentProviderError, TransientProviderError
from kassa.providers.paypal import PayPalClient, PayPalProvider
from tests.fakes.paypal import FakePayPal, Fault
from tests.providers.paypal.conftest import charge


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_token_serves_many_calls(paypal: PayPalProvider, fake: FakePayPal) -> None:
    for n in range(3):
        await paypal.authorize(charge(f"pay_tok{n}", 1000))
    assert fake.tokens_issued == 1
    api = [c for c in fake.calls if c.path != "/v1/oauth2/token"]
    assert len(api) == 3
    assert all(c.authorization and c.authorization.startswith("Bearer A21AA") for c in api)


async def test_a_token_is_replaced_before_it_expires(fake: FakePayPal) -> None:
    fake.token_ttl = 3600
    clock = Clock()
    client = PayPalClient(
        provider="paypal",
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        api_base=fake.url,
        clock=clock,
    )
    paypal = PayPalProvider("paypal", client)
    try:
        await paypal.retrieve(PaymentLookup("pay_x/authorize", "UNKNOWNORDER1"))
        clock.now += 3600 - 400  # well inside its life: kept
        await paypal.retrieve(PaymentLookup("pay_x/authorize", "UNKNOWNORDER1"))
        assert fake.tokens_issued == 1
        clock.now += 150  # within the last 5 minutes (a tenth of an hour at most): replaced
        await paypal.retrieve(PaymentLookup("pay_x/authorize", "UNKNOWNORDER1"))
        assert fake.tokens_issued == 2
    finally:
        await client.aclose()


async def test_a_token_paypal_no_longer_accepts_is_fetched_again_once(
    paypal: PayPalProvider, fake: FakePayPal
) -> None:
    first = await paypal.authorize(charge("pay_tokexp", 1000))
    fake.expire_tokens()  # PayPal forgets it early: the call is answered 401 invalid_token
    found = await paypal.retrieve(PaymentLookup("pay_tokexp/authorize", first.provider_payment_id))
    assert found is not None and found.provider_payment_id == first.provider_payment_id
    assert fake.tokens_issued == 2
    statuses = [
        c.path for c in fake.calls if c.path == f"/v2/checkout/orders/{first.provider_payment_id}"
    ]
    assert len(statuses) == 2  # the refused call, then the same call with the new token


async def test_wrong_credentials_are_refused_without_the_secret(fake: FakePayPal) -> None:
    client = PayPalClient(
        provider="paypal", client_id=fake.client_id, client_secret="wrong-s3cret", api_base=fake.url
    )
    try:
        with pytest.raises(PermanentProviderError) as info:
            await PayPalProvider("paypal", client).authorize(charge("pay_badcreds", 1000))
    finally:
        await client.aclose()
    assert info.value.code == "provider_authentication_failed"
    assert "invalid_client" in info.value.message
    assert "wrong-s3cret" not in str(info.value) and fake.client_id not in str(info.value)
    assert fake.tokens_issued == 0


async def test_a_token_endpoint_down_is_transient(paypal: PayPalProvider, fake: FakePayPal) -> None:
    fake.fail(Fault(kind="status", path="/v1/oauth2/token", status=503))
    with pytest.raises(TransientProviderError) as info:
        await paypal.authorize(charge("pay_tokdown", 1000))
    assert not info.value.ambiguous
    await paypal.authorize(charge("pay_tokdown", 1000))  # next time it answers
