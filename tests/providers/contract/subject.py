"""What the contract needs to know about one provider under test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from kassa.providers.base import ChargeResult, PayinProvider


@dataclass
class Subject:
    provider: PayinProvider
    card: str  # a payment method token that charges successfully
    declined: str  # one that is declined with ``decline_code``
    decline_code: str = "insufficient_funds"
    currency: str = "USD"
    # A token whose charge waits for the customer (3-D Secure, PayPal approval), and what the
    # customer does at the provider (the stand-in completes the challenge or the approval).
    action_token: str | None = None
    act: Callable[[ChargeResult], Awaitable[None]] | None = None
    # Every charge waits for the customer's action (PayPal orders need approval).
    always_acts: bool = False


SubjectFactory = Callable[[], AbstractAsyncContextManager[Subject]]
SubjectIterator = AsyncIterator[Subject]
