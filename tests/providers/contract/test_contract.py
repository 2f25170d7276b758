"""The pay-in contract: what every adapter does the same way, whatever its provider.

Ids and idempotency keys are fresh per test (stand-ins keep state across tests)."""

from __future__ import annotations

import importlib
import pkgutil
import secrets
from collections.abc import AsyncIterator

import pytest

import tests.providers.contract as contract
from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    ChargeResult,
    ConfirmRequest,
    DeclinedError,
    PayinProvider,
    PaymentLookup,
    PermanentProviderError,
    RefundRequest,
)
from tests.providers.contract.subject import Subject

KINDS = sorted(
    info.name.removeprefix("subject_")
    for info in pkgutil.iter_modules(contract.__path__)
    if info.name.startswith("subject_")
)


@pytest.fixture(params=KINDS)
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    module = importlib.import_module(f"tests.providers.contract.subject_{request.param}")
    async with module.subject() as found:
        yield found


def _key(verb: str) -> str:
    return f"pay_{secrets.token_hex(8)}/{verb}"


def _money(subject: Subject, minor: int) -> Money:
    return Money(minor, subject.currency)


async def _charge(
    subject: Subject, *, minor: int = 2000, capture: bool = True, key: str | None = None
) -> tuple[ChargeRequest, ChargeResult]:
    """A charge of ``subject.card``, through the customer's action when the provider needs it."""
    request = ChargeRequest(
        idempotency_key=key or _key("authorize"),
        amount=_money(subject, minor),
        payment_method=subject.card,
        capture=capture,
        return_url="https://shop.example/return",
    )
    result = await subject.provider.authorize(request)
    if result.status == "requires_action":
        assert subject.always_acts and subject.act is not None
        assert result.next_action is not None
        await subject.act(result)
        confirm = ConfirmRequest(
            idempotency_key=request.idempotency_key.replace("/authorize", "/confirm"),
            provider_payment_id=result.provider_payment_id,
            amount=request.amount,
            capture=capture,
        )
        result = await subject.provider.confirm(confirm)
    return request, result


def test_it_is_a_payin_provider(subject: Subject) -> None:
    assert isinstance(subject.provider, PayinProvider)


async def test_a_charge_is_made_once_per_key(subject: Subject) -> None:
    request, first = await _charge(subject)
    assert first.status == "succeeded"
    assert first.amount == request.amount and first.amount_captured == request.amount
    again = await subject.provider.authorize(request)
    assert again.provider_payment_id == first.provider_payment_id
    found = await subject.provider.retrieve(PaymentLookup(request.idempotency_key))
    assert found is not None and found.provider_payment_id == first.provider_payment_id
    assert found.status == "succeeded" and found.amount_captured == request.amount


async def test_a_decline_carries_the_real_decline_code(subject: Subject) -> None:
    request = ChargeRequest(_key("authorize"), _money(subject, 1500), subject.declined)
    with pytest.raises(DeclinedError) as info:
        result = await subject.provider.authorize(request)
        if result.status == "requires_action" and subject.act is not None:
            await subject.act(result)
            await subject.provider.confirm(
                ConfirmRequest(_key("confirm"), result.provider_payment_id, request.amount)
            )
    assert info.value.decline_code == subject.decline_code


async def test_authorize_capture_part_then_refund_part(subject: Subject) -> None:
    _, held = await _charge(subject, minor=5000, capture=False)
    assert held.status == "requires_capture"
    assert held.amount_captured == _money(subject, 0)
    captured = await subject.provider.capture(
        CaptureRequest(_key("capture"), held.provider_payment_id, _money(subject, 3000))
    )
    assert captured.status == "succeeded" and captured.amount_captured == _money(subject, 3000)
    refund = RefundRequest(_key("refund"), captured.provider_payment_id, _money(subject, 1000))
    first = await subject.provider.refund(refund)
    assert first.amount == _money(subject, 1000) and first.status in ("succeeded", "pending")
    again = await subject.provider.refund(refund)
    assert again.provider_refund_id == first.provider_refund_id  # the same key: one refund


async def test_an_authorization_can_be_canceled(subject: Subject) -> None:
    _, held = await _charge(subject, capture=False)
    canceled = await subject.provider.cancel(
        CancelRequest(_key("cancel"), held.provider_payment_id)
    )
    assert canceled.status == "canceled"


async def test_refunding_more_than_was_captured_is_refused(subject: Subject) -> None:
    _, paid = await _charge(subject, minor=1000)
    with pytest.raises(PermanentProviderError):
        await subject.provider.refund(
            RefundRequest(_key("refund"), paid.provider_payment_id, _money(subject, 5000))
        )


async def test_a_charge_never_sent_is_not_found(subject: Subject) -> None:
    assert await subject.provider.retrieve(PaymentLookup(_key("authorize"))) is None


async def test_the_customers_action_completes_the_charge(subject: Subject) -> None:
    if subject.action_token is None or subject.act is None:
        pytest.skip("this provider's charges never wait for the customer")
    request = ChargeRequest(
        _key("authorize"),
        _money(subject, 2500),
        subject.action_token,
        return_url="https://shop.example/return",
    )
    waiting = await subject.provider.authorize(request)
    assert waiting.status == "requires_action" and waiting.next_action is not None
    pending = ConfirmRequest(
        _key("confirm"), waiting.provider_payment_id, request.amount, capture=True
    )
    assert (await subject.provider.confirm(pending)).status == "requires_action"
    await subject.act(waiting)
    done = await subject.provider.confirm(pending)
    assert done.status == "succeeded" and done.amount_captured == request.amount
