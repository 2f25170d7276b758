"""The Stripe adapter: PaymentIntents, Refunds, PaymentMethods and Customers through the
official ``stripe`` SDK (``StripeClient``, its ``*_async`` methods, httpx transport).

**API version.** kassa speaks Stripe API ``2026-10-28.endive`` (``STRIPE_API_VERSION``), the
version stripe-python 16.1.0 pins, and sends it explicitly on every request, so the account's
default version in the Stripe Dashboard never changes what kassa gets back. Two behaviours of
the versions since 2023 that the adapter relies on, written down because they are easy to get
wrong:

- Since **2023-08-16** a PaymentIntent created without ``payment_method_types`` uses
  automatic payment methods, and confirming it needs a ``return_url``,
  ``automatic_payment_methods[allow_redirects]=never`` or ``off_session``; otherwise Stripe
  answers 400 and creates nothing. kassa sends the charge's ``return_url`` when it has one
  (3-D Secure then comes back as ``next_action.redirect_to_url``), else
  ``allow_redirects=never`` (3-D Secure comes back as ``use_stripe_sdk``, finished with
  Stripe.js and the intent's client secret).
- Since **2024-04-10** the default ``capture_method`` is ``automatic_async``; kassa always
  sends ``automatic`` (capture now) or ``manual`` (authorize only) explicitly.

**Idempotency.** kassa's idempotency key goes out as ``Idempotency-Key`` on every write, and
is also kept in the intent's metadata (``kassa_idempotency_key``) so that ``retrieve`` finds a
charge whose answer was lost: with the Search API, then (search lags writes by up to a
minute, more during outages) with the list of the last hour's intents. Stripe keeps the
result of a request once its execution began, answers a repeat with it, refuses the key with
other parameters (400 ``idempotency_error``) and answers 409 while the first is still running.

**Amounts.** kassa's Money is in ISO minor units; amounts.py converts to Stripe's units
(zero-decimal currencies, ISK, three-decimal currencies).

Importing this package registers the ``stripe`` credentials kind (credentials.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from kassa.providers.credentials import Credentials, CredentialsSpec, register_spec
from kassa.providers.stripe.provider import StripeProvider, split_token
from kassa.providers.stripe.version import STRIPE_API_VERSION


def is_live_key(fields: Mapping[str, str]) -> bool:
    return fields.get("secret_key", "").startswith(("sk_live_", "rk_live_"))


def build(name: str, credentials: Credentials) -> StripeProvider:
    fields = credentials.fields
    secrets = fields.get("webhook_secret", "")
    return StripeProvider(
        name,
        secret_key=fields["secret_key"],
        api_base=fields.get("api_base") or None,
        # Several during a rotation, comma-separated (KASSA_STRIPE_WEBHOOK_SECRET).
        webhook_secrets=tuple(part.strip() for part in secrets.split(",") if part.strip()),
    )


SPEC = CredentialsSpec(
    kind="stripe",
    required=("secret_key",),
    optional=("webhook_secret", "api_base"),
    secret=("secret_key", "webhook_secret"),
    livemode=is_live_key,
    build=build,
)
register_spec(SPEC)

__all__ = ["SPEC", "STRIPE_API_VERSION", "StripeProvider", "build", "split_token"]
