"""Provider credentials as adapters see them, and what each provider kind needs.

Credentials come from two places: the install's environment settings (id ``default``: the
``KASSA_STRIPE_*``, ``KASSA_PAYPAL_*``, ``KASSA_BRAINTREE_*`` variables) and an account's own,
stored encrypted (ids ``pcr_...``). Either way an adapter gets a ``Credentials``: its kind,
whether it is live, and the provider's own fields, decrypted. Each adapter package declares a
``CredentialsSpec`` (the fields it needs, which are secret, how the mode is told) and registers
it, so the API, the CLI and ``kassa config check`` validate and mask every provider alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kassa.providers.base import PayinProvider

DEFAULT = "default"  # the install's credentials (breakers.DEFAULT_CREDENTIALS)


@dataclass(frozen=True, slots=True)
class Credentials:
    id: str  # DEFAULT, or an account's "pcr_..."
    kind: str  # "stripe", "paypal", "braintree", "mock"
    livemode: bool  # live credentials serve only live-mode keys, test ones only test-mode keys
    fields: Mapping[str, str] = field(default_factory=dict)  # e.g. {"secret_key": "sk_test_..."}
    account_id: str | None = None  # None for DEFAULT
    # Changes whenever the stored credentials change (their updated_at): the registry keeps
    # one adapter per (id, version), so an update rebuilds it.
    version: str = ""


@dataclass(frozen=True, slots=True)
class CredentialsSpec:
    """What one provider kind needs. ``build`` makes an adapter named ``name``."""

    kind: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    secret: tuple[str, ...]  # never returned, logged or shown (write-only)
    livemode: Callable[[Mapping[str, str]], bool]
    build: Callable[[str, Credentials], PayinProvider]
    # Fields that must have one of these values (e.g. {"environment": ("sandbox", "live")}).
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def problems(self, fields: Mapping[str, str]) -> list[str]:
        """What is wrong with ``fields`` (empty when nothing): named, never echoing values."""
        found = [f"{name} is required" for name in self.required if not fields.get(name)]
        known = {*self.required, *self.optional}
        found += [f"{name} is not a {self.kind} field" for name in fields if name not in known]
        for name, allowed in self.choices.items():
            value = fields.get(name)
            if value and value not in allowed:
                found.append(f"{name} is one of {', '.join(allowed)}")
        return found


SPECS: dict[str, CredentialsSpec] = {}


class CredentialsSource(Protocol):
    """An account's own credentials, as the registry asks for them (accounts/ implements it
    over the database; the providers layer never touches one)."""

    async def for_account(self, account_id: str, livemode: bool) -> Mapping[str, Credentials]:
        """By provider kind, the account's active credentials of that mode (none deleted)."""
        ...


def register_spec(spec: CredentialsSpec) -> None:
    """Called by each adapter package on import (kassa.providers.stripe, ...)."""
    SPECS[spec.kind] = spec
