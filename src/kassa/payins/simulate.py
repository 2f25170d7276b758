"""Playing the customer in test mode (``POST /v1/test_helpers/payments/{id}/complete_action``).

A payment made with ``pm_card_threeDSecure`` waits for the customer's 3-D Secure at the mock
provider. In a real integration the customer completes it in the merchant's page; here a test,
or a developer trying kassa with curl, completes it for them: the mock records the action in
its ledger (shared by every process), exactly as a provider learns of it, and kassa learns of
it the way it learns from a real provider: when the payment is confirmed (the merchant's
``POST /v1/payments/{id}/confirm``, or reconciliation). The helper changes nothing in kassa.

Test keys only (a live key gets ``403 test_helpers_test_mode_only``, once the payment was
found: another mode's ids are 404 as everywhere), and only at a provider that simulates its
customers (the mock); at a real provider's sandbox the customer acts on its test pages.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import executor
from kassa.core.errors import InvalidRequest
from kassa.payins.errors import (
    ACTION_NOT_SIMULATED,
    PAYMENT_NOT_AWAITING_ACTION,
    TEST_HELPERS_TEST_MODE_ONLY,
)
from kassa.payins.gateway import scope_of
from kassa.payins.models import Payment
from kassa.payins.repository import attempts_for, get_owned
from kassa.payins.state import REQUIRES_ACTION
from kassa.payins.views import payment_json
from kassa.providers.registry import ProviderRegistry


@runtime_checkable
class PlaysCustomer(Protocol):
    """A provider that simulates its customers (the mock)."""

    def complete_action(self, provider_payment_id: str) -> None: ...


async def complete_action(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
) -> dict[str, object]:
    """The customer completes the payment's challenge at its (simulated) provider; returns
    the payment as kassa knows it (still requires_action until it is confirmed)."""
    async with executor.unit(sessions) as step:
        payment = await get_owned(
            step.reads, Payment, payment_id, account_id=account_id, livemode=livemode
        )
        attempts = await attempts_for(step.reads, payment_id)
    if livemode:
        raise TEST_HELPERS_TEST_MODE_ONLY("Test helpers take test-mode keys (sk_test_...) only.")
    if payment.status != REQUIRES_ACTION:
        raise PAYMENT_NOT_AWAITING_ACTION(
            f"This payment is {payment.status}: it does not wait for the customer.",
            details={"current_status": payment.status},
        )
    try:  # the adapter of the account's credentials, which made the payment
        provider: object = (await registry.resolve(payment.provider, scope_of(payment))).adapter
    except InvalidRequest:
        provider = None
    if not isinstance(provider, PlaysCustomer):
        raise ACTION_NOT_SIMULATED(
            f"{payment.provider} is a real provider: the customer acts on its own pages.",
        )
    provider.complete_action(payment.provider_payment_id or "")
    return payment_json(payment, attempts, client_secret=True)
