"""The catalog entries of the codes providers' refusals reach clients with, and the codes of
provider calls that never do.

A ``PermanentProviderError`` passes its code through to the client (400, see
``payins.errors.refused_by_provider``): every code an adapter refuses with is declared here.
Transient failures (timeouts, 5xx, an open circuit) reach clients as ``provider_unavailable``;
their codes are only recorded on the payment's attempts.
"""

from __future__ import annotations

from kassa.core.error_catalog import declare
from kassa.core.errors import InvalidRequest

UNKNOWN_PROVIDER = declare("unknown_provider", InvalidRequest, "`provider` is not configured.")
PROVIDER_TEST_MODE_ONLY = declare(
    "provider_test_mode_only", InvalidRequest, "The mock provider was asked with a live key."
)
PROVIDER_NOT_CONFIGURED = declare(
    "provider_not_configured",
    InvalidRequest,
    "Neither the account nor the install has credentials of this provider for the key's mode "
    "(nothing was written).",
)
INVALID_PAYMENT_METHOD = declare(
    "invalid_payment_method", InvalidRequest, "The provider does not know the payment method."
)
INVALID_PAYEE = declare("invalid_payee", InvalidRequest, "The provider refused the payee account.")
IDEMPOTENCY_MISMATCH = declare(
    "idempotency_mismatch",
    InvalidRequest,
    "The provider saw the call's idempotency key with another amount.",
)
PROVIDER_REJECTED = declare(
    "provider_rejected", InvalidRequest, "The provider refused the request as sent."
)
PROVIDER_AUTHENTICATION_FAILED = declare(
    "provider_authentication_failed",
    InvalidRequest,
    "The provider refused the credentials kassa called it with (a wrong, revoked or "
    "restricted key, or a payout wallet's sign-in): check them with `kassa config check`, or "
    "the account's provider credentials.",
)
PROVIDER_PERMISSION_DENIED = declare(
    "provider_permission_denied",
    InvalidRequest,
    "The provider account behind the credentials is not allowed to do this.",
)
PROVIDER_PAYMENT_NOT_FOUND = declare(
    "provider_payment_not_found",
    InvalidRequest,
    "The provider does not know the payment (or the refund) the call names.",
)

PROVIDER_CURRENCY_UNSUPPORTED = declare(
    "provider_currency_unsupported",
    InvalidRequest,
    "The provider cannot pay out in the requested currency.",
)

# Codes of transient failures: recorded on attempts, never sent as an API error code.
TIMEOUT = "timeout"
PROVIDER_DOWN = "provider_down"
PROVIDER_PROCESSING = "provider_processing"  # the provider has not decided yet: ask again
