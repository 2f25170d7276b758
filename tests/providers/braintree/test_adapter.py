"""The Braintree adapter's own promises, beyond the shared contract: idempotency by order
id, partial settlement and refunds, declines with their codes, the error mapping of HTTP
failures and timeouts, and an event loop that keeps running while the SDK waits."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    DeclinedError,
    PaymentLookup,
    PaymentMethodRequest,
    PermanentProviderError,
    RateLimitedError,
    RefundRequest,
    TransientProviderError,
)
from kassa.providers.braintree import SPEC, BraintreeProvider
from kassa.providers.braintree.failures import BraintreeDeclinedError
from kassa.providers.braintree.provider import is_nonce
from kassa.providers.credentials import Credentials
from tests.fakes.braintree import FakeBraintree
from tests.providers.braintree.conftest import provider_for

CARD = "fake-valid-visa-nonce"


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def key(verb: str = "authorize") -> str:
    return f"pay_{secrets.token_hex(8)}/{verb}"


def sales(fake: FakeBraintree, order_id: str) -> list[str]:
    return [
        t.id
        for t in fake.state.transactions.values()
        if t.type == "sale" and t.order_id == order_id
    ]


async def test_a_repeated_sale_charges_once(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    request = ChargeRequest(key(), usd(2500), CARD)
    first = await provider.authorize(request)
    again = await provider.authorize(request)
    assert again.provider_payment_id == first.provider_payment_id
    assert sales(fake, request.idempotency_key) == [first.provider_payment_id]
    with pytest.raises(PermanentProviderError) as info:
        await provider.authorize(ChargeRequest(request.idempotency_key, usd(2600), CARD))
    assert info.value.code == "idempotency_mismatch"


async def test_a_sale_whose_answer_was_lost_is_found_and_not_charged_again(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    request = ChargeRequest(key(), usd(1800), CARD)
    fake.fail_next(hang=1.0, after=True, match="POST .*/transactions$")
    with pytest.raises(TransientProviderError) as info:
        await provider.authorize(request)
    assert info.value.ambiguous and info.value.code == "timeout"
    found = await provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "succeeded"
    assert found.amount_captured == usd(1800)
    again = await provider.authorize(request)
    assert again.provider_payment_id == found.provider_payment_id
    assert sales(fake, request.idempotency_key) == [found.provider_payment_id]


async def test_a_retry_the_search_index_misses_is_caught_by_duplicate_checking(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    fake.state.search_lag = 0.3  # new transactions show in search only 0.3 s later
    provider.duplicate_search_delays = (0.0, 0.2, 0.3)
    request = ChargeRequest(key(), usd(1900), CARD)
    first = await provider.authorize(request)
    again = await provider.authorize(request)  # search misses it; the sale is a duplicate
    assert again.provider_payment_id == first.provider_payment_id
    rejected = [t for t in fake.state.transactions.values() if t.rejection == "duplicate"]
    assert [t.order_id for t in rejected] == [request.idempotency_key]
    found = await provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.provider_payment_id == first.provider_payment_id


async def test_partial_settlement_then_partial_refunds(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    held = await provider.authorize(ChargeRequest(key(), usd(5000), CARD, capture=False))
    assert held.status == "requires_capture" and held.amount_captured == usd(0)
    captured = await provider.capture(
        CaptureRequest(key("capture"), held.provider_payment_id, usd(3000))
    )
    assert captured.status == "succeeded"
    assert captured.amount == usd(5000) and captured.amount_captured == usd(3000)
    again = await provider.capture(
        CaptureRequest(key("capture"), held.provider_payment_id, usd(3000))
    )
    assert again.amount_captured == usd(3000)  # submitted already: as it stands
    first = await provider.refund(RefundRequest(key("refund"), held.provider_payment_id, usd(1000)))
    second = await provider.refund(RefundRequest(key("refund"), held.provider_payment_id, usd(500)))
    assert first.provider_refund_id != second.provider_refund_id
    assert first.status == "succeeded" and second.amount == usd(500)
    found = await provider.retrieve(PaymentLookup("unused", held.provider_payment_id))
    assert found is not None
    assert (found.amount, found.amount_captured, found.amount_refunded) == (
        usd(5000),
        usd(3000),
        usd(1500),
    )
    with pytest.raises(PermanentProviderError) as info:
        await provider.refund(RefundRequest(key("refund"), held.provider_payment_id, usd(2000)))
    assert "91521" in info.value.message


async def test_before_settlement_a_whole_refund_voids_and_a_part_waits(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    fake.state.auto_settle = False
    paid = await provider.authorize(ChargeRequest(key(), usd(1200), CARD))
    part = RefundRequest(key("refund"), paid.provider_payment_id, usd(200))
    with pytest.raises(PermanentProviderError) as info:
        await provider.refund(part)
    assert "91506" in info.value.message and "settled" in info.value.message
    whole = RefundRequest(key("refund"), paid.provider_payment_id, usd(1200))
    voided = await provider.refund(whole)
    assert (voided.status, voided.amount) == ("succeeded", usd(1200))
    assert fake.state.transactions[paid.provider_payment_id].status == "voided"
    assert (await provider.refund(whole)).provider_refund_id == voided.provider_refund_id
    found = await provider.retrieve(PaymentLookup("unused", paid.provider_payment_id))
    assert found is not None and found.status == "succeeded"
    assert (found.amount_captured, found.amount_refunded) == (usd(1200), usd(1200))
    other = await provider.authorize(ChargeRequest(key(), usd(900), CARD))
    fake.settle(other.provider_payment_id)
    refund = RefundRequest(key("refund"), other.provider_payment_id, usd(300))
    assert (await provider.refund(refund)).amount == usd(300)
    assert (await provider.refund(refund)).provider_refund_id  # the same key: one refund
    assert len(fake.state.transactions[other.provider_payment_id].refund_ids) == 1


@pytest.mark.parametrize(
    ("minor", "code", "soft"),
    [
        (200100, "insufficient_funds", True),
        (200400, "expired_card", False),
        (200000, "do_not_honor", True),
    ],
)
async def test_a_processor_decline_carries_its_code(
    provider: BraintreeProvider, minor: int, code: str, soft: bool
) -> None:
    request = ChargeRequest(key(), usd(minor), CARD)
    with pytest.raises(BraintreeDeclinedError) as info:
        await provider.authorize(request)
    error = info.value
    assert error.decline_code == code and error.soft is soft
    assert error.processor_response_code == str(minor // 100)
    assert str(minor // 100) in error.message
    assert error.method is not None and error.method.last4 == "1111"
    found = await provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "failed" and found.decline_code == code
    with pytest.raises(DeclinedError):  # the same key: the same decline, no new sale
        await provider.authorize(request)


async def test_a_gateway_rejection_is_a_decline_with_its_reason(
    provider: BraintreeProvider,
) -> None:
    with pytest.raises(BraintreeDeclinedError) as info:
        await provider.authorize(
            ChargeRequest(key(), usd(1000), "fake-gateway-rejected-fraud-nonce")
        )
    assert info.value.decline_code == "fraudulent"
    assert info.value.gateway_rejection_reason == "fraud"
    with pytest.raises(BraintreeDeclinedError) as failed:
        await provider.authorize(ChargeRequest(key(), usd(300000), CARD))
    assert failed.value.decline_code == "processing_error" and failed.value.soft


async def test_validation_errors_are_permanent_with_a_stable_code(
    provider: BraintreeProvider,
) -> None:
    with pytest.raises(PermanentProviderError) as info:
        await provider.authorize(ChargeRequest(key(), usd(1000), "fake-luhn-invalid-nonce"))
    assert info.value.code == "invalid_payment_method"
    with pytest.raises(PermanentProviderError) as unknown:
        await provider.authorize(ChargeRequest(key(), usd(1000), "no_such_token"))
    assert unknown.value.code == "invalid_payment_method"


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (500, TransientProviderError, "provider_down"),
        (503, TransientProviderError, "provider_down"),
        (429, RateLimitedError, "rate_limited"),
    ],
)
async def test_http_failures_map_onto_the_error_tree(
    fake: FakeBraintree, provider: BraintreeProvider, status: int, kind: type[Exception], code: str
) -> None:
    fake.fail_next(status, match="advanced_search_ids")
    with pytest.raises(kind) as info:
        await provider.authorize(ChargeRequest(key(), usd(1000), CARD))
    assert isinstance(info.value, TransientProviderError)
    assert info.value.code == code and not info.value.ambiguous


async def test_timeouts_are_ambiguous_only_for_writes(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    fake.fail_next(hang=1.0, match="GET")
    with pytest.raises(TransientProviderError) as read:
        await provider.retrieve(PaymentLookup(key(), "abc12345"))
    assert read.value.code == "timeout" and not read.value.ambiguous
    fake.fail_next(hang=1.0, match="PUT")
    with pytest.raises(TransientProviderError) as write:
        await provider.capture(CaptureRequest(key("capture"), "abc12345", usd(100)))
    assert write.value.ambiguous


async def test_a_connection_refused_is_not_ambiguous(fake: FakeBraintree) -> None:
    provider = provider_for(fake)
    fake.stop()
    with pytest.raises(TransientProviderError) as info:
        await provider.capture(CaptureRequest(key("capture"), "abc12345", usd(100)))
    assert not info.value.ambiguous


async def test_refused_credentials_are_permanent_and_say_nothing_of_the_key(
    fake: FakeBraintree,
) -> None:
    provider = provider_for(fake, private_key="wrong_private_key_value")
    with pytest.raises(PermanentProviderError) as info:
        await provider.authorize(ChargeRequest(key(), usd(1000), CARD))
    assert "401" in info.value.message
    assert "wrong_private_key_value" not in info.value.message + repr(provider)


async def test_cancel_voids_an_authorization_once(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    held = await provider.authorize(ChargeRequest(key(), usd(700), CARD, capture=False))
    canceled = await provider.cancel(CancelRequest(key("cancel"), held.provider_payment_id))
    again = await provider.cancel(CancelRequest(key("cancel"), held.provider_payment_id))
    assert canceled.status == again.status == "canceled"
    found = await provider.retrieve(PaymentLookup("unused", held.provider_payment_id))
    assert found is not None and found.status == "canceled"
    paid = await provider.authorize(ChargeRequest(key(), usd(700), CARD))
    with pytest.raises(PermanentProviderError):
        await provider.cancel(CancelRequest(key("cancel"), paid.provider_payment_id))


async def test_a_nonce_is_vaulted_once_per_key_and_its_token_charges(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    request = PaymentMethodRequest("pm_1/create", "fake-valid-amex-nonce")
    vaulted = await provider.create_payment_method(request)
    assert (vaulted.details.brand, vaulted.details.last4) == ("amex", "0005")
    assert (await provider.create_payment_method(request)).token == vaulted.token
    assert len(fake.state.vault) == 1
    looked_up = await provider.create_payment_method(
        PaymentMethodRequest("pm_2/create", vaulted.token)
    )
    assert looked_up.token == vaulted.token
    paid = await provider.authorize(ChargeRequest(key(), usd(1500), vaulted.token))
    assert paid.status == "succeeded" and paid.method is not None and paid.method.brand == "amex"
    with pytest.raises(PermanentProviderError) as info:
        await provider.create_payment_method(
            PaymentMethodRequest("pm_3/create", "fake-consumed-nonce")
        )
    assert info.value.code == "invalid_payment_method"


async def test_sdk_calls_do_not_block_the_event_loop(fake: FakeBraintree) -> None:
    provider = provider_for(fake, timeout=3.0)
    fake.fail_next(hang=0.4, match="POST")  # a slow answer
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    started = time.monotonic()
    paid = await provider.authorize(ChargeRequest(key(), usd(1000), CARD))
    elapsed = time.monotonic() - started
    running.cancel()
    assert paid.status == "succeeded" and elapsed >= 0.4
    assert ticks >= 10  # the loop kept running all along (about 40 on a quiet machine)


async def test_concurrent_calls_run_side_by_side(fake: FakeBraintree) -> None:
    provider = provider_for(fake, timeout=3.0)
    fake.fail_next(hang=0.5, match="POST .*/transactions$", times=4)
    started = time.monotonic()
    results = await asyncio.gather(
        *(provider.authorize(ChargeRequest(key(), usd(1000 + i), CARD)) for i in range(4))
    )
    assert len({r.provider_payment_id for r in results}) == 4
    assert time.monotonic() - started < 1.5  # not 4 x 0.5 s one after another


def test_the_credentials_spec(fake: FakeBraintree) -> None:
    assert SPEC.problems({"merchant_id": "m"}) == [
        "public_key is required",
        "private_key is required",
    ]
    fields = {"merchant_id": "m", "public_key": "p", "private_key": "s", "environment": "live"}
    assert SPEC.problems(fields) == ["environment is one of sandbox, production"]
    assert SPEC.problems({**fields, "environment": "sandbox", "secret": "x"}) == [
        "secret is not a braintree field"
    ]
    assert SPEC.secret == ("private_key",)
    assert SPEC.livemode({**fields, "environment": "production"})
    assert not SPEC.livemode({**fields, "environment": "sandbox"}) and not SPEC.livemode({})
    built = SPEC.build(
        "braintree",
        Credentials(
            "default",
            "braintree",
            False,
            {**fields, "environment": "sandbox", "api_base": fake.url},
        ),
    )
    assert isinstance(built, BraintreeProvider) and built.name == "braintree"
    assert "s" not in repr(built).replace("BraintreeProvider", "").replace("braintree", "")


async def test_each_currency_goes_to_its_merchant_account() -> None:
    with FakeBraintree(currencies=("USD", "EUR")).running() as fake:
        provider = provider_for(fake)
        paid = await provider.authorize(ChargeRequest(key(), Money(990, "EUR"), CARD))
        assert paid.amount == Money(990, "EUR")
        assert fake.state.transactions[paid.provider_payment_id].merchant_account_id.endswith(
            "_eur"
        )
        with pytest.raises(PermanentProviderError) as info:
            await provider.authorize(ChargeRequest(key(), Money(990, "GBP"), CARD))
        assert "GBP" in info.value.message
        assert len(fake.state.transactions) == 1  # refused before charging
        assert sum(1 for method, path in fake.requests if "merchant_accounts" in path) == 1


async def test_a_connection_dropped_after_the_sale_is_ambiguous(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    request = ChargeRequest(key(), usd(1300), CARD)
    fake.fail_next(drop=True, after=True, match="POST .*/transactions$")
    with pytest.raises(TransientProviderError) as info:
        await provider.authorize(request)
    assert info.value.ambiguous
    found = await provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.status == "succeeded"


async def test_a_duplicate_rejection_alone_is_never_reported_as_a_failure(
    fake: FakeBraintree, provider: BraintreeProvider
) -> None:
    """While the index shows only the retry Braintree refused as a duplicate, the charge
    is not failed: the original exists, so the answer is an ambiguous transient error."""
    provider.duplicate_search_delays = (0.0,)
    request = ChargeRequest(key(), usd(2100), CARD)
    first = await provider.authorize(request)
    fake.state.unindexed.add(first.provider_payment_id)
    with pytest.raises(TransientProviderError) as info:
        await provider.authorize(request)
    assert info.value.ambiguous and info.value.code == "duplicate_pending"
    with pytest.raises(TransientProviderError):  # only the duplicate shows: not "failed"
        await provider.retrieve(PaymentLookup(request.idempotency_key))
    with pytest.raises(TransientProviderError):
        await provider.authorize(request)
    fake.state.unindexed.clear()
    found = await provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.provider_payment_id == first.provider_payment_id
    assert (await provider.authorize(request)).provider_payment_id == first.provider_payment_id
    assert sales(fake, request.idempotency_key)[0] == first.provider_payment_id


@pytest.mark.parametrize(
    ("value", "nonce"),
    [
        ("fake-valid-visa-nonce", True),
        ("tokencc_bf_3gp9xw_8c9whh_h2mn9t_dnt5ym_3h4", True),
        ("6ab6a7a4-b8a9-0e4e-5e0f-52ab8e2e6e6c", True),
        ("8xk2mz9", False),  # a vaulted token as Braintree makes them
        ("token_of_mine", False),
    ],
)
def test_nonces_and_vaulted_tokens_are_told_apart(value: str, nonce: bool) -> None:
    assert is_nonce(value) is nonce


def test_environments() -> None:
    from kassa.core.errors import ConfigurationError
    from kassa.providers.braintree.gateway import environment
    from kassa.providers.braintree.sdk import braintree

    assert environment("sandbox", None) is braintree.Environment.Sandbox
    assert environment("production", None) is braintree.Environment.Production
    local = environment("sandbox", "http://127.0.0.1:8123")
    assert local.base_url == "http://127.0.0.1:8123" and not local.is_ssl
    assert environment("production", "https://bt.example").base_url == "https://bt.example:443"
    with pytest.raises(ConfigurationError):
        environment("sandbox", "https://bt.example:8443")  # the SDK would speak plain HTTP
    with pytest.raises(ConfigurationError):
        environment("sandbox", "ftp://bt.example")
