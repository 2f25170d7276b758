"""Calling providers from the domain: guards, failover, and what came back. No database.

Every call is made for a ``CallScope`` (the account and mode it serves). The registry resolves
it, per provider, to the adapter of the right credentials (the account's own for that kind and
mode, else the install's) and fills in ``credentials_id``, which picks the circuit breaker
guarding the call (providers/breakers.py): one merchant's failures never open the circuit
another merchant goes through. Call functions get the resolved adapter, never a name.

Failover moves to the next provider only on a transient error the provider surely did not
act on (rate limit, 5xx before processing, open circuit). After an *ambiguous* one (a timeout)
the charge may exist at that provider, so trying another could charge twice: the payment stays
``processing`` and reconciliation asks the same provider with the same key.

**Admission.** Before a use case writes its intent (a payment, a refund) it asks ``admit``:
when every circuit it could go through is open, it is refused right there (503
``provider_unavailable`` with ``Retry-After``) and nothing is written, so no failed object is
left behind and the request's Idempotency-Key stays free. An intent written because the
circuit said yes is then *sent*, even if the circuit opened in the moment between (the call
passes ``admitted_at``, the intent's ``created_at``): the race ends like the calls already in
flight when a circuit opens, never as an object that was refused without being sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from kassa.core.errors import InvalidRequest
from kassa.payins.errors import ProviderUnavailable
from kassa.providers.base import (
    PayinProvider,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from kassa.providers.breakers import CallScope
from kassa.providers.registry import ProviderRegistry, Resolved
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


class Owned(Protocol):
    """A payment or refund: whose it is, and in which mode."""

    @property
    def account_id(self) -> str: ...
    @property
    def livemode(self) -> bool: ...


def scope_of(owned: Owned) -> CallScope:
    """The scope of calls made for ``owned``: its account and mode. Credentials are per
    provider kind, so the registry fills in ``credentials_id`` for each provider it resolves
    (``Resolved.scope``, the scope the guard and breaker of that call use)."""
    return CallScope(account_id=owned.account_id, livemode=owned.livemode)


def admit(registry: ProviderRegistry, route: Sequence[Resolved]) -> None:
    """Raise ProviderUnavailable (nothing is written yet) unless a circuit of ``route``
    (``registry.route``: which already refused a provider without credentials) lets a call
    through now. Call it right before the intent takes its ``created_at``, with no ``await``
    between, so that moment is the admission's (see the module docstring)."""
    waits = []
    for resolved in route:
        breaker = registry.breaker(resolved.name, resolved.scope)
        if breaker.refusing_since() is None:
            return
        waits.append(breaker.retry_after())
    retry_after = max(1, min(waits))
    names = ", ".join(r.name for r in route)
    raise ProviderUnavailable(
        f"{names} failed repeatedly for these credentials and its circuit is open, so "
        f"nothing was sent and nothing was created. Retry in {retry_after} s.",
        retry_after=retry_after,
        details={"reason": "circuit_open"},
    )


def _admitted(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


ProviderCall = Callable[[PayinProvider], Awaitable[T]]


def _unserved(name: str, exc: InvalidRequest) -> PermanentProviderError:
    """A provider that cannot be called now for this scope (its credentials were deleted
    since the intent): nothing was sent, so it is a refusal, with the registry's code."""
    return PermanentProviderError(exc.message, provider=name, code=exc.code)


async def _guarded(
    registry: ProviderRegistry,
    resolved: Resolved,
    fn: ProviderCall[T],
    admitted_at: datetime | None,
) -> Outcome[T]:
    outcome: Outcome[T] = Outcome(resolved.name)
    guard = registry.guard(resolved.name, resolved.scope)
    adapter = resolved.adapter
    try:
        outcome.result = await guard.call(
            lambda: fn(adapter), outcome.records, admitted_at=_admitted(admitted_at)
        )
    except ProviderError as exc:
        outcome.error = exc
    return outcome


async def call_one(
    registry: ProviderRegistry,
    name: str,
    fn: ProviderCall[T],
    *,
    scope: CallScope,
    admitted_at: datetime | None = None,
) -> Outcome[T]:
    """One provider, with the adapter of the scope's credentials and its guard (timeout,
    breaker, retries). ``fn`` gets the adapter."""
    try:
        resolved = await registry.resolve(name, scope)
    except InvalidRequest as exc:
        return Outcome(name, error=_unserved(name, exc))
    return await _guarded(registry, resolved, fn, admitted_at)


async def call_with_failover(
    registry: ProviderRegistry,
    first: str,
    fn: ProviderCall[T],
    *,
    scope: CallScope,
    admitted_at: datetime | None = None,
) -> Outcome[T]:
    """Try ``registry.route(first, scope)`` in order until one answers, declines, refuses,
    or is ambiguous. ``fn`` gets each adapter in turn."""
    try:
        route = await registry.route(first, scope)
    except InvalidRequest as exc:
        return Outcome(first, error=_unserved(first, exc))
    records: list[CallRecord] = []
    last: Outcome[T] | None = None
    for resolved in route:
        outcome = await _guarded(registry, resolved, fn, admitted_at)
        records.extend(outcome.records)
        outcome.records = records
        last = outcome
        error = outcome.error
        if not isinstance(error, TransientProviderError) or error.ambiguous:
            return outcome
    assert last is not None
    return last
