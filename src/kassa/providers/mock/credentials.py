"""The mock's credentials spec: nothing is required, so per-account credentials can be tried
end to end without a real provider.

An optional ``secret_key`` (write-only, like a real provider's) says the mode the way Stripe's
keys do: ``sk_live_...`` is live, anything else (or none) is test. The mock refuses live-mode
payments whatever its credentials (``test_only``), so live mock credentials only exist to be
managed, listed and refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from kassa.providers.base import PayinProvider
from kassa.providers.credentials import Credentials, CredentialsSpec, register_spec
from kassa.providers.mock.provider import MockProvider


def _livemode(fields: Mapping[str, str]) -> bool:
    return fields.get("secret_key", "").startswith("sk_live_")


def _build(name: str, credentials: Credentials) -> PayinProvider:
    # The registry builds account adapters of the mock with the install's mock settings
    # (failure rate, delay, shared ledger); this plain one serves direct uses of the spec.
    return MockProvider(name)


MOCK_SPEC = CredentialsSpec(
    kind="mock",
    required=(),
    optional=("secret_key",),
    secret=("secret_key",),
    livemode=_livemode,
    build=_build,
)
register_spec(MOCK_SPEC)
