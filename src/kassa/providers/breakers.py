"""Which circuit breaker guards a provider call: one per provider *credentials*, and mode.

A breaker says "this provider is failing for the calls made with these credentials", so it
must be shared exactly by the calls that share the provider's fate, and by no others:

    calls made with                          breaker key (provider, credentials, mode, account)
    the install's credentials, live mode     (p, "default", live, -)    one per install
    the install's credentials, test mode     (p, "default", test, acct) one per account
    an account's own credentials             (p, credentials id, mode, -)

Live traffic on the install's credentials shares one breaker: a real outage there is
everybody's. Test mode on them is split per account, because test-mode scenarios (test tokens
that time out or fail on purpose) are chosen by each merchant: one account trying them must
never open a breaker another account, or live traffic, goes through. An account's own
credentials (``CallScope.credentials_id``; today every call uses the install's) are that
account's alone. And a rate limit answered to one request never counts (resilience.py).

The pool keeps breakers per key, creating them on first use; it forgets breakers at rest
(closed, clean, idle) once it grows, so memory stays bounded by the accounts failing now.
``/health`` and ``/metrics`` show the install's live breakers by provider and only counts of
the per-account ones, so their size never grows with the number of accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import Gauge

from kassa.core.metrics import REGISTRY
from kassa.providers.resilience import CircuitBreaker

DEFAULT_CREDENTIALS = "default"  # the install's own credentials, from its settings
_PRUNE_AT_LEAST = 1024

account_circuits_open = Gauge(
    "kassa_provider_account_circuits_open",
    "Circuit breakers of single accounts (test mode on the install's credentials, or an "
    "account's own credentials) that are open now, per provider.",
    ["provider"],
    registry=REGISTRY,
)


@dataclass(frozen=True, slots=True)
class CallScope:
    """Whose request a provider call serves: picks its credentials and its breaker."""

    account_id: str
    livemode: bool
    credentials_id: str | None = None  # the account's own credentials; None: the install's


@dataclass(frozen=True, slots=True)
class BreakerKey:
    provider: str
    credentials: str
    livemode: bool
    account_id: str | None = None  # only for test mode on the install's credentials

    @property
    def shared(self) -> bool:
        """The install's live breaker of ``provider``, which every live payment on the
        install's credentials goes through."""
        return self.credentials == DEFAULT_CREDENTIALS and self.livemode


def breaker_key(provider: str, scope: CallScope) -> BreakerKey:
    if scope.credentials_id is not None:
        return BreakerKey(provider, scope.credentials_id, scope.livemode)
    if scope.livemode:
        return BreakerKey(provider, DEFAULT_CREDENTIALS, True)
    return BreakerKey(provider, DEFAULT_CREDENTIALS, False, scope.account_id)


def install_key(provider: str) -> BreakerKey:
    return BreakerKey(provider, DEFAULT_CREDENTIALS, True)


class BreakerPool:
    """The breakers of one provider registry, by key, made by ``make`` on first use."""

    def __init__(self, make: Callable[[BreakerKey], CircuitBreaker]) -> None:
        self._make = make
        self._breakers: dict[BreakerKey, CircuitBreaker] = {}
        self._prune_at = _PRUNE_AT_LEAST

    def get(self, key: BreakerKey) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            if len(self._breakers) >= self._prune_at:
                self._prune()
            breaker = self._breakers[key] = self._make(key)
        return breaker

    def _prune(self) -> None:
        """Forget breakers a fresh one would replace exactly (never the install's)."""
        for key, breaker in list(self._breakers.items()):
            if not key.shared and breaker.at_rest:
                del self._breakers[key]
        self._prune_at = max(_PRUNE_AT_LEAST, 2 * len(self._breakers))

    def accounts(self, provider: str) -> Iterator[CircuitBreaker]:
        """The per-account breakers of ``provider`` (test mode, or accounts' credentials)."""
        for key, breaker in self._breakers.items():
            if key.provider == provider and not key.shared:
                yield breaker

    def accounts_open(self, provider: str) -> int:
        return sum(1 for b in self.accounts(provider) if b.state == "open")

    def __len__(self) -> int:
        return len(self._breakers)
