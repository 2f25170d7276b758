"""A plugin (KASSA_PLUGINS) giving ``stripe`` and ``paypal`` credentials specs to a kassa
subprocess when their adapter packages are not there yet; where they are, it changes nothing
(the real specs are the ones `config check` must hold to, and these tests keep passing)."""

from __future__ import annotations

from collections.abc import Mapping

from kassa.providers.credentials import Credentials, CredentialsSpec, register_spec
from kassa.providers.mock import MockProvider
from kassa.providers.registry import load_kind


def _mock(name: str, credentials: Credentials) -> MockProvider:
    return MockProvider(name)


def _stripe_live(fields: Mapping[str, str]) -> bool:
    return fields.get("secret_key", "").startswith(("sk_live_", "rk_live_"))


def _paypal_live(fields: Mapping[str, str]) -> bool:
    return fields.get("environment") == "live"


if load_kind("stripe") is None:
    register_spec(
        CredentialsSpec(
            kind="stripe",
            required=("secret_key",),
            optional=("webhook_secret", "api_base"),
            secret=("secret_key", "webhook_secret"),
            livemode=_stripe_live,
            build=_mock,
        )
    )
if load_kind("paypal") is None:
    register_spec(
        CredentialsSpec(
            kind="paypal",
            required=("client_id", "client_secret"),
            optional=("webhook_id", "environment", "api_base"),
            secret=("client_secret",),
            livemode=_paypal_live,
            build=_mock,
            choices={"environment": ("sandbox", "live")},
        )
    )
