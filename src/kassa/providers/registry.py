"""Named provider configurations -> adapters, built from the credentials each call serves.

A provider *name* is what payments record (``mock``, ``mock_b``, ``stripe``); its *kind* is the
part before the first underscore and picks the adapter, so several configurations of one kind
can live side by side (``mock`` and ``mock_b`` for trying failover). Which names are enabled:
``PAYMENT_PROVIDER`` (the default), ``KASSA_PROVIDER_FAILOVER`` and ``KASSA_PROVIDERS``.

**Credentials.** The adapter that serves a call is a function of the call's credentials
(``resolve(name, scope)``): the account's own credentials of that kind and mode when it has
them (asked of the ``CredentialsSource`` the registry was bound to, see ``bind``), else the
install's (providers/defaults.py) when their mode is the call's, else the call is refused with
``provider_not_configured`` (400) before anything is written. Adapters of an account's
credentials are built by ``SPECS[kind].build`` and kept per (credentials id, version): an
update rebuilds it, deleted credentials are no longer found and so no longer serve. Kinds
whose install adapter needs no credentials (the mock, adapters registered with
``register_factory``) serve both modes with it; ``check_mode`` keeps live money away from the
ones that only simulate. Adapter packages are imported by kind when first needed
(``kassa.providers.stripe`` registers its spec on import); a kind without one is unknown.

Every call is guarded (timeout, retries, circuit breaker) by ``guard(name, scope)``: the
breaker is the one of the caller's credentials and mode (see breakers.py); ``Resolved.scope``
names the credentials, so calls on an account's own credentials have breakers of their own.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

from kassa.core.errors import ConfigurationError
from kassa.core.settings import Settings
from kassa.providers.base import PayinProvider
from kassa.providers.breakers import (
    BreakerKey,
    BreakerPool,
    CallScope,
    account_circuits_open,
    breaker_key,
    install_key,
)
from kassa.providers.credentials import (
    DEFAULT,
    SPECS,
    Credentials,
    CredentialsSource,
    CredentialsSpec,
)
from kassa.providers.defaults import default_credentials
from kassa.providers.errors import (
    PROVIDER_NOT_CONFIGURED,
    PROVIDER_TEST_MODE_ONLY,
    UNKNOWN_PROVIDER,
)
from kassa.providers.mock import MockLedger, MockProvider, ledger_file
from kassa.providers.resilience import (
    STATE_VALUE,
    CircuitBreaker,
    Guard,
    RetryPolicy,
    circuit_state,
)

Factory = Callable[[str, Settings], PayinProvider]
Builder = Callable[[str, Credentials], PayinProvider]
_CACHE_LIMIT = 4096  # adapters of accounts' credentials kept at most (rebuilt when dropped)


def _mock(name: str, settings: Settings) -> PayinProvider:
    return MockProvider(
        name,
        failure_rate=settings.mock_failure_rate,
        delay=settings.mock_payment_delay,
        ledger=MockLedger(name, ledger_file(settings.var_dir)),  # shared by every process
    )


FACTORIES: dict[str, Factory] = {"mock": _mock}


def register_factory(kind: str, factory: Factory) -> None:
    """Adapters whose install adapter needs no credentials make themselves available by
    kind (the mock); adapters with credentials register a ``CredentialsSpec`` instead."""
    FACTORIES[kind] = factory


def load_kind(kind: str) -> CredentialsSpec | None:
    """The spec of ``kind``, importing its adapter package (``kassa.providers.<kind>``) the
    first time; None when no such package exists (yet)."""
    if kind not in SPECS and kind.isidentifier():
        try:
            importlib.import_module(f"kassa.providers.{kind}")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"kassa.providers.{kind}",):
                raise  # the package exists but something it needs does not: say so
    return SPECS.get(kind)


def known_kinds() -> list[str]:
    """Every pay-in kind kassa has an adapter for: the factories, and each adapter package
    of kassa.providers that registers a credentials spec (importing them: error paths and
    config check only)."""
    import kassa.providers as package

    adapters = {
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.ispkg and load_kind(info.name) is not None
    }
    return sorted({*FACTORIES, *SPECS, *adapters})


def mode_name(livemode: bool) -> str:
    return "live" if livemode else "test"


@dataclass(frozen=True, slots=True)
class Resolved:
    """What serves one provider call: the adapter, the credentials it was built from, and
    the scope of the call (its ``credentials_id`` picks the breaker)."""

    name: str
    adapter: PayinProvider
    credentials: Credentials
    scope: CallScope


def _state_value(breaker: CircuitBreaker) -> float:
    return STATE_VALUE[breaker.state]


def kind_of(name: str) -> str:
    return name.split("_", 1)[0]


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


@dataclass(frozen=True)
class GuardPolicy:
    """How every provider call is guarded (the same for all providers of an install)."""

    failure_threshold: int = 5
    reset_seconds: float = 30.0
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def breaker(self, key: BreakerKey) -> CircuitBreaker:
        return CircuitBreaker(
            key.provider,
            failure_threshold=self.failure_threshold,
            reset_seconds=self.reset_seconds,
            published=False,  # the registry reports its breakers at scrape time
        )


@dataclass
class ProviderRegistry:
    """The enabled providers, their install adapters, their breakers and the adapters of
    accounts' credentials. ``bind(source)`` gives a view that also knows accounts'
    credentials; views share breakers and adapters with the registry they came from."""

    providers: dict[str, PayinProvider]  # the install's adapters, by name
    policy: GuardPolicy
    default: str
    failover: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)
    enabled: tuple[str, ...] = ()  # every enabled name (default: those of ``providers``)
    # By name, the install's credentials its adapter was built from; a name missing here
    # (the mock, a pinned test adapter) has an install adapter that serves both modes.
    installed: dict[str, Credentials] = field(default_factory=dict)
    # By name, what is wrong with the install's credentials (they are not used; config
    # check says the same): calls without an account's own are refused naming it.
    misconfigured: dict[str, list[str]] = field(default_factory=dict)
    source: CredentialsSource | None = None
    builder: Builder | None = None  # builds adapters of accounts' credentials
    breakers: BreakerPool = field(init=False)
    _adapters: dict[tuple[str, str], tuple[str, PayinProvider]] = field(init=False)

    def __post_init__(self) -> None:
        self.enabled = tuple(dict.fromkeys((*self.enabled, *self.providers)))
        self.breakers = BreakerPool(self.policy.breaker)
        self._adapters = {}
        for name in self.enabled:
            shared = self.breakers.get(install_key(name))  # always listed, never forgotten
            # Read when /metrics is scraped, so the figures are current (an open circuit
            # turns half-open by time alone); the registry built last in a process reports.
            circuit_state.labels(name).set_function(partial(_state_value, shared))
            account_circuits_open.labels(name).set_function(
                partial(self.breakers.accounts_open, name)
            )

    def bind(self, source: CredentialsSource | None) -> ProviderRegistry:
        """This registry, also serving accounts' own credentials from ``source``."""
        view = copy.copy(self)  # shares providers, breakers and built adapters
        view.source = source
        return view

    @property
    def names(self) -> list[str]:
        return sorted(self.enabled)

    def knows(self, name: str) -> bool:
        return name in self.enabled

    def _known(self, name: str) -> None:
        if name not in self.enabled:
            raise UNKNOWN_PROVIDER(
                f"Unknown provider {name!r}; enabled: {', '.join(self.names)}.",
                param="provider",
            )

    def get(self, name: str) -> PayinProvider:
        """The install's adapter of ``name`` (its own credentials, or none needed)."""
        self._known(name)
        adapter = self.providers.get(name)
        if adapter is None:
            raise PROVIDER_NOT_CONFIGURED(
                f"The install has no credentials of {name!r}; only accounts with their own "
                "can use it.",
                param="provider",
            )
        return adapter

    def check_mode(self, name: str, *, livemode: bool) -> None:
        """Live-mode money never goes to a provider that only simulates (like Stripe, which
        refuses test cards for live keys)."""
        self._known(name)  # unknown_provider first
        self._refuse_simulated(name, self.providers.get(name), livemode=livemode)

    @staticmethod
    def _refuse_simulated(name: str, adapter: PayinProvider | None, *, livemode: bool) -> None:
        if livemode and getattr(adapter, "test_only", False):
            raise PROVIDER_TEST_MODE_ONLY(
                f"The {name!r} provider only simulates payments; it takes test-mode keys "
                "(sk_test_...). Configure a real provider (PAYMENT_PROVIDER) for live keys.",
                param="provider",
            )

    async def _own(self, scope: CallScope) -> Mapping[str, Credentials]:
        if self.source is None:
            return {}
        return await self.source.for_account(scope.account_id, scope.livemode)

    def _account_adapter(self, name: str, credentials: Credentials) -> PayinProvider:
        key = (name, credentials.id)
        cached = self._adapters.get(key)
        if cached is not None and cached[0] == credentials.version:
            return cached[1]
        build = self.builder or _spec_build
        adapter = build(name, credentials)
        if len(self._adapters) >= _CACHE_LIMIT:
            self._adapters.clear()  # rare: rebuilding is cheap, memory stays bounded
        self._adapters[key] = (credentials.version, adapter)
        return adapter

    def _pick(self, name: str, scope: CallScope, own: Mapping[str, Credentials]) -> Resolved | None:
        mine = own.get(kind_of(name))
        if mine is not None:
            adapter = self._account_adapter(name, mine)
            return Resolved(name, adapter, mine, replace(scope, credentials_id=mine.id))
        install = self.providers.get(name)
        if install is None:
            return None
        credentials = self.installed.get(name)
        if credentials is None:  # needs none: serves both modes (check_mode guards live)
            credentials = Credentials(DEFAULT, kind_of(name), livemode=scope.livemode)
        elif credentials.livemode != scope.livemode:
            return None
        return Resolved(name, install, credentials, replace(scope, credentials_id=None))

    def _not_configured(self, name: str, scope: CallScope) -> Exception:
        mode = mode_name(scope.livemode)
        install = self.installed.get(name)
        has = f" (the install's are {mode_name(install.livemode)}-mode)" if install else ""
        wrong = self.misconfigured.get(name)
        if wrong:
            has = f" (the install's are incomplete: {'; '.join(wrong)}; see kassa config check)"
        return PROVIDER_NOT_CONFIGURED(
            f"No {mode}-mode credentials of {name!r}: neither this account nor the install "
            f"has usable ones{has}. Add them with POST /v1/provider_credentials (kind "
            f"{kind_of(name)!r}) or in the install's settings; nothing was created.",
            param="provider",
            details={"provider": name, "livemode": scope.livemode},
        )

    async def resolve(self, name: str, scope: CallScope) -> Resolved:
        """The adapter and credentials that serve a call to ``name`` for ``scope``; raises
        ``unknown_provider``, ``provider_not_configured`` or ``provider_test_mode_only``."""
        self._known(name)
        found = self._pick(name, scope, await self._own(scope))
        if found is None:
            raise self._not_configured(name, scope)
        self._refuse_simulated(name, found.adapter, livemode=scope.livemode)
        return found

    async def route(self, first: str | None, scope: CallScope) -> list[Resolved]:
        """The providers to try in order: ``first`` (default: the install's default), which
        must serve ``scope`` (raises as ``resolve``), then each failover provider that has
        credentials for it (the account's own or the install's) and takes its mode."""
        start = first or self.default
        self._known(start)
        own = await self._own(scope)
        chosen = self._pick(start, scope, own)
        if chosen is None:
            raise self._not_configured(start, scope)
        self._refuse_simulated(start, chosen.adapter, livemode=scope.livemode)
        found = [chosen]
        for name in self.failover:
            if name == start:
                continue
            nxt = self._pick(name, scope, own)
            if nxt is not None and not (
                scope.livemode and getattr(nxt.adapter, "test_only", False)
            ):
                found.append(nxt)
        return found

    def breaker(self, name: str, scope: CallScope) -> CircuitBreaker:
        """The breaker of calls to ``name`` made for ``scope`` (see breakers.py)."""
        self._known(name)  # unknown_provider for a name that is not configured
        return self.breakers.get(breaker_key(name, scope))

    def guard(self, name: str, scope: CallScope) -> Guard:
        policy = self.policy
        return Guard(self.breaker(name, scope), timeout=policy.timeout, retry=policy.retry)

    def chain(self, first: str | None) -> list[str]:
        """Names to try in order: the chosen one, then the failover order (if on); which of
        them serve a given call is ``route``'s answer."""
        start = first or self.default
        self._known(start)
        return [start, *(n for n in self.failover if n != start)]

    async def health(self) -> dict[str, object]:
        """For /health: per provider, the install's live circuit (degraded when one is not
        closed) and how many single accounts' circuits are open (a count: it says how many
        merchants are affected without listing them, and never degrades the install)."""
        circuits: dict[str, object] = {}
        closed = True
        for name in self.names:
            shared = self.breakers.get(install_key(name))
            closed = closed and shared.state == "closed"
            circuits[name] = {
                **shared.health(),
                "account_circuits_open": self.breakers.accounts_open(name),
            }
        return {"status": "ok" if closed else "degraded", "providers": circuits}


def _spec_build(name: str, credentials: Credentials) -> PayinProvider:
    spec = load_kind(credentials.kind)
    if spec is None:
        raise ConfigurationError(f"No adapter for provider kind {credentials.kind!r}.")
    return spec.build(name, credentials)


def _builder(settings: Settings) -> Builder:
    """Adapters of accounts' credentials: the mock with the install's mock settings, every
    other kind by its spec."""

    def build(name: str, credentials: Credentials) -> PayinProvider:
        if credentials.kind == "mock":
            return _mock(name, settings)
        return _spec_build(name, credentials)

    return build


def build_registry(
    settings: Settings, *, extra_providers: dict[str, PayinProvider] | None = None
) -> ProviderRegistry:
    """Every enabled name gets its install adapter when the install has credentials of its
    kind (or its kind needs none); a kind with a spec but no install credentials is enabled
    for accounts that bring their own. A name of no known kind stops the start."""
    failover = tuple(_names(settings.provider_failover))
    wanted = list(
        dict.fromkeys(
            [settings.payin_default_provider, *failover, *_names(settings.providers_enabled)]
        )
    )
    providers: dict[str, PayinProvider] = dict(extra_providers or {})
    installed: dict[str, Credentials] = {}
    misconfigured: dict[str, list[str]] = {}
    defaults = default_credentials(settings)
    for name in wanted:
        if name in providers:
            continue
        kind = kind_of(name)
        spec = load_kind(kind)
        if spec is not None and kind in defaults:
            wrong = spec.problems(defaults[kind].fields)
            if wrong:  # never half-configured: refused clearly, not at the first call
                misconfigured[name] = wrong
            else:
                installed[name] = defaults[kind]
                providers[name] = spec.build(name, defaults[kind])
        elif kind in FACTORIES:
            providers[name] = FACTORIES[kind](name, settings)
        elif spec is None:
            raise ConfigurationError(
                f"No adapter for provider {name!r}; known kinds: {', '.join(known_kinds())}."
            )
    policy = GuardPolicy(
        failure_threshold=settings.circuit_failure_threshold,
        reset_seconds=settings.circuit_reset_seconds,
        timeout=settings.provider_timeout_seconds,
        retry=RetryPolicy(attempts=settings.provider_retry_attempts),
    )
    return ProviderRegistry(
        providers,
        policy,
        settings.payin_default_provider,
        failover,
        enabled=tuple(wanted),
        installed=installed,
        misconfigured=misconfigured,
        builder=_builder(settings),
    )
