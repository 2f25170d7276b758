"""The mock provider's contract: every scenario token, idempotency, pure-function lookups."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    DeclinedError,
    PayinProvider,
    PaymentLookup,
    PaymentMethodRequest,
    PermanentProviderError,
    RateLimitedError,
    RefundRequest,
    TransientProviderError,
)
from kassa.providers.mock import MockLedger, MockProvider, ledger_file, parse_token

USD10 = Money(1000, "USD")


def charge(token: str, key: str = "pay_1/authorize", capture: bool = True) -> ChargeRequest:
    return ChargeRequest(idempotency_key=key, amount=USD10, payment_method=token, capture=capture)


@pytest.fixture
def mock() -> MockProvider:
    return MockProvider("mock_contract")


def test_the_mock_is_a_payin_provider(mock: MockProvider) -> None:
    assert isinstance(mock, PayinProvider)


async def test_success_charges_once_per_key(mock: MockProvider) -> None:
    first = await mock.authorize(charge("pm_card_visa"))
    again = await mock.authorize(charge("pm_card_visa"))
    assert first == again
    assert first.status == "succeeded" and first.amount_captured == USD10
    assert first.method is not None and first.method.last4 == "4242"
    assert mock.ledger.charge_count("pay_1/authorize") == 1
    assert mock.ledger.calls("authorize", "pay_1/authorize") == 2


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
    found = await mock.retrieve(PaymentLookup("pay_1/authorize"))
    assert found is not None and found.status == "succeeded"
    assert mock.ledger.charge_count("pay_1/authorize") == 1


async def test_rate_limit_is_transient_and_never_processed(mock: MockProvider) -> None:
    with pytest.raises(TransientProviderError) as info:
        await mock.authorize(charge("pm_card_rateLimit"))
    assert not info.value.ambiguous and info.value.code == "rate_limited"
    assert mock.ledger.charge_count("pay_1/authorize") == 0
    assert await mock.retrieve(PaymentLookup("pay_1/authorize")) is None


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
    other = MockProvider("mock_contract", ledger=mock.ledger)  # another instance, same records
    again = [(await other.retrieve(PaymentLookup(f"pay_{i}/authorize"))) for i in range(200)]
    assert [p is not None and p.status == "succeeded" for p in again] == outcomes


async def test_delay_token_waits_then_succeeds(mock: MockProvider) -> None:
    assert parse_token("pm_card_delay_250").delay_ms == 250
    result = await mock.authorize(charge("pm_card_delay_1"))
    assert result.status == "succeeded"


def test_a_delay_of_other_digits_is_no_delay() -> None:
    """A superscript is a digit to str.isdigit() but not to int(): an unknown token (400),
    never a 500; nor is an Arabic-Indic delay read as a number."""
    assert parse_token("pm_card_delay_\u00b2").kind == "unknown"
    assert parse_token("pm_card_delay_\u0661\u0662").kind == "unknown"
    assert parse_token("pm_card_delay_" + "9" * 5000).kind == "unknown"  # past int()'s limit


def test_scenarios_can_target_one_provider() -> None:
    assert parse_token("pm_card_rateLimit_on_mock", "mock").kind == "rate_limit"
    assert parse_token("pm_card_rateLimit_on_mock", "mock_b").kind == "success"
    assert parse_token("pm_card_nonsense_on_mock", "mock_b").kind == "unknown"


async def test_lookup_is_the_same_from_any_process(tmp_path: Path) -> None:
    """Another process (its own ledger object and connection on the install's file) sees what
    this one did, asked only by key or id: the captures and refunds come from the record."""
    here = MockProvider("mock_contract", ledger=MockLedger("mock_contract", ledger_file(tmp_path)))
    result = await here.authorize(charge("pm_card_visa", capture=False))
    pid = result.provider_payment_id
    await here.capture(CaptureRequest("pay_1/capture", pid, Money(400, "USD")))
    await here.refund(RefundRequest("re_1", pid, Money(100, "USD")))
    elsewhere = MockProvider(
        "mock_contract", ledger=MockLedger("mock_contract", ledger_file(tmp_path))
    )
    for lookup in (PaymentLookup("pay_1/authorize"), PaymentLookup("other/authorize", pid)):
        found = await elsewhere.retrieve(lookup)
        assert found is not None
        assert found.provider_payment_id == pid
        assert (found.status, found.amount_captured.minor, found.amount_refunded.minor) == (
            "succeeded",
            400,
            100,
        )
    assert (ledger_file(tmp_path).stat().st_mode & 0o777) == 0o600  # never world-readable


async def test_a_charge_never_sent_is_not_found_whatever_its_token(mock: MockProvider) -> None:
    """The provider answers from what it received: a token that would succeed proves nothing."""
    assert await mock.retrieve(PaymentLookup("pay_never/authorize")) is None
    assert await mock.retrieve(PaymentLookup("pay_never/authorize", "mockpi_x")) is None


async def test_a_canceled_authorization_is_found_canceled(mock: MockProvider) -> None:
    auth = await mock.authorize(charge("pm_card_visa", capture=False))
    await mock.cancel(CancelRequest("pay_1/cancel", auth.provider_payment_id))
    found = await mock.retrieve(PaymentLookup("pay_1/authorize", auth.provider_payment_id))
    assert found is not None
    assert (found.status, found.amount_captured.minor) == ("canceled", 0)


async def test_a_declined_charge_is_found_failed(mock: MockProvider) -> None:
    with pytest.raises(DeclinedError):
        await mock.authorize(charge("pm_card_decline_lost_card"))
    found = await mock.retrieve(PaymentLookup("pay_1/authorize"))
    assert found is not None and (found.status, found.decline_code) == ("failed", "lost_card")


async def test_provider_down_is_an_outage_and_a_rate_limit_is_not(mock: MockProvider) -> None:
    with pytest.raises(TransientProviderError) as down:
        await mock.authorize(charge("pm_card_providerDown"))
    assert not isinstance(down.value, RateLimitedError) and not down.value.ambiguous
    assert down.value.code == "provider_down"
    with pytest.raises(RateLimitedError):
        await mock.authorize(charge("pm_card_rateLimit", key="pay_2/authorize"))
    assert mock.ledger.charge_count("pay_1/authorize") == 0


async def test_a_slow_answer_is_charged_before_it_leaves(mock: MockProvider) -> None:
    """Like a real provider's, the charge stays made when the caller stops waiting (or dies)."""
    task = asyncio.create_task(mock.authorize(charge("pm_card_delay_60000")))
    for _ in range(100):
        if mock.ledger.charge_count("pay_1/authorize"):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    found = await mock.retrieve(PaymentLookup("pay_1/authorize"))
    assert found is not None and found.status == "succeeded"


async def test_refund_is_idempotent(mock: MockProvider) -> None:
    request = RefundRequest("re_1", "mockpi_x", Money(300, "USD"))
    assert await mock.refund(request) == await mock.refund(request)
    assert mock.ledger.refund_count() == 1


async def test_payment_method_tokens(mock: MockProvider) -> None:
    card = await mock.create_payment_method(PaymentMethodRequest("pm_1", "pm_card_amex"))
    assert card.details.type == "card" and card.details.brand == "amex"
    bank = await mock.create_payment_method(PaymentMethodRequest("pm_2", "pm_usBankAccount"))
    assert bank.details.type == "bank_account"
    wallet = await mock.create_payment_method(PaymentMethodRequest("pm_3", "pm_wallet_paypal"))
    assert wallet.details.to_json() == {"wallet": "paypal"}
    with pytest.raises(PermanentProviderError):
        await mock.create_payment_method(PaymentMethodRequest("pm_4", "tok_bogus"))


def test_mocks_share_records_only_through_a_ledger_they_are_given() -> None:
    assert MockProvider("mock_x").ledger is not MockProvider("mock_x").ledger
    shared = MockLedger("mock_x")
    assert MockProvider("mock_x", ledger=shared).ledger is shared
