"""The mock provider's contract: every scenario token, idempotency, pure-function lookups."""

from __future__ import annotations

import pytest

from kassa.core.money import Money
from kassa.providers.base import (
    CaptureRequest,
    ChargeRequest,
    DeclinedError,
    PayinProvider,
    PaymentLookup,
    PaymentMethodRequest,
    PermanentProviderError,
    RefundRequest,
    TransientProviderError,
)
from kassa.providers.mock import MockProvider, parse_token
from kassa.providers.mock.provider import ledger_for

USD10 = Money(1000, "USD")


def charge(token: str, key: str = "pay_1/authorize", capture: bool = True) -> ChargeRequest:
    return ChargeRequest(idempotency_key=key, amount=USD10, payment_method=token, capture=capture)


@pytest.fixture
def mock() -> MockProvider:
    provider = MockProvider("mock_contract")
    provider.ledger.clear()
    return provider


def test_the_mock_is_a_payin_provider(mock: MockProvider) -> None:
    assert isinstance(mock, PayinProvider)


async def test_success_charges_once_per_key(mock: MockProvider) -> None:
    first = await mock.authorize(charge("pm_card_visa"))
    again = await mock.authorize(charge("pm_card_visa"))
    assert first == again
    assert first.status == "succeeded" and first.amount_captured == USD10
    assert first.method is not None and first.method.last4 == "4242"
    assert mock.ledger.charge_count("pay_1/authorize") == 1
    assert mock.ledger.calls["authorize:pay_1/authorize"] == 2


async def test_same_key_different_amount_is_refused(mock: MockProvider) -> None:
    await mock.authorize(charge("pm_card_visa"))
    other = ChargeRequest("pay_1/authorize", Money(1, "USD"), "pm_card_visa")
    with pytest.raises(PermanentProviderError) as info:
        await mock.authorize(other)
    assert info.value.code == "idempotency_mismatch"


async def test_authorize_only_then_capture_part(mock: MockProvider) -> None:
    auth = await mock.authorize(charge("pm_card_mastercard", capture=False))
    assert auth.status == "requires_capture" and auth.amount_captured.is_zero()
    cap = await mock.capture(
        CaptureRequest("pay_1/capture", auth.provider_payment_id, Money(600, "USD"))
    )
    assert cap.status == "succeeded" and cap.amount_captured == Money(600, "USD")


@pytest.mark.parametrize(
    ("token", "decline_code", "soft"),
    [
        ("pm_card_chargeDeclined", "generic_decline", True),
        ("pm_card_insufficientFunds", "insufficient_funds", True),
        ("pm_card_decline_stolen_card", "stolen_card", False),
        ("pm_card_decline_expired_card", "expired_card", False),
    ],
)
async def test_declines(mock: MockProvider, token: str, decline_code: str, soft: bool) -> None:
    with pytest.raises(DeclinedError) as info:
        await mock.authorize(charge(token))
    assert info.value.decline_code == decline_code
    assert info.value.soft is soft


async def test_timeout_charges_but_loses_the_answer(mock: MockProvider) -> None:
    with pytest.raises(TransientProviderError) as info:
        await mock.authorize(charge("pm_card_timeout"))
    assert info.value.ambiguous and info.value.code == "timeout"
    found = await mock.retrieve(PaymentLookup(charge("pm_card_timeout")))
    assert found is not None and found.status == "succeeded"
    assert mock.ledger.charge_count("pay_1/authorize") == 1


async def test_rate_limit_is_transient_and_never_processed(mock: MockProvider) -> None:
    with pytest.raises(TransientProviderError) as info:
        await mock.authorize(charge("pm_card_rateLimit"))
    assert not info.value.ambiguous and info.value.code == "rate_limited"
    assert mock.ledger.charge_count("pay_1/authorize") == 0
    assert await mock.retrieve(PaymentLookup(charge("pm_card_rateLimit"))) is None


async def test_invalid_payee_and_unknown_tokens_are_permanent(mock: MockProvider) -> None:
    with pytest.raises(PermanentProviderError) as info:
        await mock.authorize(charge("pm_card_invalidPayee"))
    assert info.value.code == "invalid_payee"
    with pytest.raises(PermanentProviderError) as unknown:
        await mock.authorize(charge("4242424242424242"))
    assert unknown.value.code == "invalid_payment_method"


async def test_partial_failure_declines_about_one_in_five_keys_deterministically(
    mock: MockProvider,
) -> None:
    outcomes = []
    for i in range(200):
        try:
            await mock.authorize(charge("pm_card_partialFailure", key=f"pay_{i}/authorize"))
            outcomes.append(True)
        except DeclinedError as exc:
            outcomes.append(exc.decline_code != "processing_error")
    failed = outcomes.count(False)
    assert 20 <= failed <= 60
    other = MockProvider("mock_contract")
    again = [
        (
            await other.retrieve(
                PaymentLookup(charge("pm_card_partialFailure", key=f"pay_{i}/authorize"))
            )
        )
        for i in range(200)
    ]
    assert [p is not None and p.status == "succeeded" for p in again] == outcomes


async def test_delay_token_waits_then_succeeds(mock: MockProvider) -> None:
    assert parse_token("pm_card_delay_250").delay_ms == 250
    result = await mock.authorize(charge("pm_card_delay_1"))
    assert result.status == "succeeded"


def test_scenarios_can_target_one_provider() -> None:
    assert parse_token("pm_card_rateLimit_on_mock", "mock").kind == "rate_limit"
    assert parse_token("pm_card_rateLimit_on_mock", "mock_b").kind == "success"
    assert parse_token("pm_card_nonsense_on_mock", "mock_b").kind == "unknown"


async def test_lookup_is_the_same_from_any_process(mock: MockProvider) -> None:
    """A fresh instance with an empty ledger (another process) answers the same."""
    result = await mock.authorize(charge("pm_card_visa", capture=False))
    elsewhere = MockProvider("mock_contract")
    elsewhere.ledger.clear()
    lookup = PaymentLookup(
        charge("pm_card_visa", capture=False),
        captures=(CaptureRequest("pay_1/capture", result.provider_payment_id, Money(400, "USD")),),
        refunds=(RefundRequest("re_1", result.provider_payment_id, Money(100, "USD")),),
    )
    found = await elsewhere.retrieve(lookup)
    assert found is not None
    assert found.provider_payment_id == result.provider_payment_id
    assert (found.status, found.amount_captured.minor, found.amount_refunded.minor) == (
        "succeeded",
        400,
        100,
    )


async def test_refund_is_idempotent(mock: MockProvider) -> None:
    request = RefundRequest("re_1", "mockpi_x", Money(300, "USD"))
    assert await mock.refund(request) == await mock.refund(request)
    assert len(mock.ledger.refunds) == 1


async def test_payment_method_tokens(mock: MockProvider) -> None:
    card = await mock.create_payment_method(PaymentMethodRequest("pm_1", "pm_card_amex"))
    assert card.details.type == "card" and card.details.brand == "amex"
    bank = await mock.create_payment_method(PaymentMethodRequest("pm_2", "pm_usBankAccount"))
    assert bank.details.type == "bank_account"
    wallet = await mock.create_payment_method(PaymentMethodRequest("pm_3", "pm_wallet_paypal"))
    assert wallet.details.to_json() == {"wallet": "paypal"}
    with pytest.raises(PermanentProviderError):
        await mock.create_payment_method(PaymentMethodRequest("pm_4", "tok_bogus"))


def test_ledgers_are_per_provider_name() -> None:
    assert ledger_for("mock_x") is ledger_for("mock_x")
    assert ledger_for("mock_x") is not ledger_for("mock_y")
