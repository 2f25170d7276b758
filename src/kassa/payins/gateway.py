"""Calling providers from the domain: guards, failover, and what came back. No database.

Failover moves to the next provider only on a transient error the provider surely did not
act on (rate limit, 5xx before processing, open circuit). After an *ambiguous* one (a timeout)
the charge may exist at that provider, so trying another could charge twice: the payment stays
``processing`` and reconciliation asks the same provider with the same key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kassa.providers.base import ProviderError, TransientProviderError
from kassa.providers.registry import ProviderRegistry
from kassa.providers.resilience import CallRecord

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    provider: str
    result: T | None = None
    error: ProviderError | None = None
    records: list[CallRecord] = field(default_factory=list)

    @property
    def ambiguous(self) -> bool:
        return isinstance(self.error, TransientProviderError) and self.error.ambiguous


async def call_one(
    registry: ProviderRegistry, name: str, fn: Callable[[], Awaitable[T]]
) -> Outcome[T]:
    """One provider, with its guard (timeout, breaker, retries)."""
    outcome: Outcome[T] = Outcome(name)
    try:
        outcome.result = await registry.guard(name).call(fn, outcome.records)
    except ProviderError as exc:
        outcome.error = exc
    return outcome


async def call_with_failover(
    registry: ProviderRegistry,
    chain: list[str],
    make_call: Callable[[str], Callable[[], Awaitable[T]]],
) -> Outcome[T]:
    """Try ``chain`` in order until one answers, declines, refuses, or is ambiguous."""
    records: list[CallRecord] = []
    last: Outcome[T] | None = None
    for name in chain:
        outcome = await call_one(registry, name, make_call(name))
        records.extend(outcome.records)
        outcome.records = records
        last = outcome
        error = outcome.error
        if not isinstance(error, TransientProviderError) or error.ambiguous:
            return outcome
    assert last is not None
    return last
