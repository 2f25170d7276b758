"""Pay-in errors beyond the core tree (the API maps PaymentDeclined to 402, like Stripe), and
the catalog entries of every code pay-ins raise."""

from __future__ import annotations

from typing import Any

from kassa.core.error_catalog import ErrorCode, declare, declare_kind, find
from kassa.core.errors import (
    Conflict,
    InvalidMoney,
    InvalidRequest,
    InvalidStateTransition,
    KassaError,
    PermissionDenied,
    ServiceUnavailable,
)
from kassa.providers.errors import PROVIDER_REJECTED


class PaymentDeclined(KassaError):
    """The provider declined the payment; ``details`` carries decline_code and payment id."""

    code = "card_declined"
    default_message = "The card was declined."


class CardNumberRefused(InvalidRequest):
    code = "card_number_refused"
    default_message = (
        "The request contains what looks like a card number. kassa never accepts card "
        "numbers: tokenize the card with your provider and send the token."
    )


class ProviderUnavailable(ServiceUnavailable):
    """``retry_after``: whole seconds after which trying again may work (``Retry-After``)."""

    code = "provider_unavailable"
    default_message = "No payment provider could take the payment. Try again shortly."

    def __init__(
        self, message: str | None = None, *, retry_after: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


# -- the catalog entries of pay-ins (raise the entry: ``raise PAYMENT_NOT_CAPTURABLE("...")``)
CARD_DECLINED = declare_kind(
    PaymentDeclined, "The payment was declined (`decline_code`, `payment_id`)."
)
CARD_NUMBER_REFUSED = declare_kind(
    CardNumberRefused,
    "Something that looks like a card number, anywhere in the request ([the API guide]"
    "(api.md#errors) says what is looked at).",
)
PROVIDER_UNAVAILABLE = declare_kind(
    ProviderUnavailable,
    "No configured provider can take the payment now: retry after `Retry-After` seconds (with "
    '`"reason": "circuit_open"` the circuit was open and nothing was created).',
)
PARAMETER_MISSING = declare(
    "parameter_missing", InvalidRequest, "Neither `payment_method` nor `payment_method_id`."
)
AMOUNT_MUST_BE_POSITIVE = declare(
    "amount_must_be_positive", InvalidMoney, "An amount of zero or less."
)
METADATA_INVALID = declare(
    "metadata_invalid",
    InvalidRequest,
    "More than 50 metadata keys, keys over 40 or values over 500 characters.",
)
PAYMENT_METHOD_UNUSABLE = declare(
    "payment_method_unusable", InvalidRequest, "The payment method was deleted."
)
PAYMENT_METHOD_CUSTOMER_MISMATCH = declare(
    "payment_method_customer_mismatch",
    InvalidRequest,
    "The payment method is saved for another customer.",
)
PAYMENT_NOT_CAPTURABLE = declare(
    "payment_not_capturable", InvalidStateTransition, "The payment is not awaiting capture."
)
PAYMENT_NOT_CANCELABLE = declare(
    "payment_not_cancelable", InvalidStateTransition, "The payment can no longer be canceled."
)
PAYMENT_NOT_REFUNDABLE = declare(
    "payment_not_refundable", InvalidStateTransition, "The payment has nothing captured to refund."
)
CHARGE_ALREADY_REFUNDED = declare(
    "charge_already_refunded",
    InvalidStateTransition,
    "The payment is refunded in full already (or its refunds in flight would refund it all).",
)
PAYMENT_METHOD_DETACHED = declare(
    "payment_method_detached", Conflict, "The payment method was detached from its customer."
)
# A provider's refusal reaches the client with the provider's code (``providers.errors``
# declares those); this one is what reconciliation records when the provider never saw it.
PAYMENT_NOT_PROCESSED = declare(
    "payment_not_processed",
    InvalidRequest,
    "The provider has no record of the payment (found by reconciliation): it was never made.",
)
PAYMENT_CANCELED_BY_PROVIDER = declare(
    "payment_canceled_by_provider",
    InvalidRequest,
    "The provider canceled the payment before it completed (its event said so while kassa "
    "waited for the answer), e.g. a customer who never finished 3-D Secure.",
)

INVALID_RETURN_URL = declare(
    "invalid_return_url",
    InvalidRequest,
    "`return_url` is not an absolute https URL (http only to a loopback host, in test mode, in "
    "development).",
)
PAYMENT_NOT_AWAITING_ACTION = declare(
    "payment_not_awaiting_action",
    InvalidStateTransition,
    "The test helper played the customer for a payment that does not wait for one.",
)
ACTION_NOT_SIMULATED = declare(
    "action_not_simulated",
    InvalidRequest,
    "The test helper was asked to act at a real provider: the customer acts there (its test "
    "pages, its sandbox).",
)
TEST_HELPERS_TEST_MODE_ONLY = declare(
    "test_helpers_test_mode_only",
    PermissionDenied,
    "A test helper (`/v1/test_helpers/...`) was called with a live key.",
)


def refused_by_provider(code: str | None) -> ErrorCode[InvalidRequest]:
    """The entry a provider's refusal code reaches the client as (``provider_rejected`` for a
    code no adapter declared, so the API only ever sends catalog codes)."""
    return (code and find(code, InvalidRequest)) or PROVIDER_REJECTED
