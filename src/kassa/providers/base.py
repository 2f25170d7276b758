"""What kassa needs from a pay-in provider: a Protocol, neutral objects and one error tree.

Every adapter (mock, Stripe, PayPal, Braintree) takes and returns these objects; conversion to
the provider's units and shapes happens inside the adapter, never in the domain. Every call
carries an idempotency key derived from kassa's own ids (``pay_.../authorize``,
``re_...``), so repeating a call can never move money twice.

The error tree (what the caller may do about each)::

    ProviderError                 base; ``provider`` and a stable ``code``
    ├── TransientProviderError    timeouts, 5xx, rate limits, open circuit: retry later, and
    │                             fail over to the next provider *unless* ``ambiguous``
    │                             (the provider may have acted, e.g. a timeout after sending:
    │                             only the same provider asked with the same key can tell)
    ├── DeclinedError             the card or account was declined: ``decline_code``
    │                             (``insufficient_funds``, ...), ``soft`` when a later retry may
    │                             succeed; never retried here, never failed over
    └── PermanentProviderError    the request cannot succeed as sent (invalid request, invalid
                                  payee, unknown payment method): never retried
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from kassa.core.money import Money

PaymentStatus = Literal["requires_capture", "succeeded", "failed", "canceled"]
RefundStatus = Literal["succeeded", "failed", "pending"]
MethodType = Literal["card", "bank_account", "wallet"]

# Decline codes after which a retry later may succeed (card networks' "soft" declines).
SOFT_DECLINES = frozenset(
    {
        "insufficient_funds",
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "do_not_honor",
        "generic_decline",
        "approve_with_id",
        "reenter_transaction",
        "withdrawal_count_limit_exceeded",
    }
)


class ProviderError(Exception):
    code = "provider_error"

    def __init__(self, message: str, *, provider: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        if code is not None:
            self.code = code


class TransientProviderError(ProviderError):
    code = "provider_unavailable"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        code: str | None = None,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, code=code)
        self.ambiguous = ambiguous
        self.retry_after = retry_after


class DeclinedError(ProviderError):
    code = "card_declined"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        decline_code: str = "generic_decline",
        provider_payment_id: str | None = None,
        method: MethodDetails | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.decline_code = decline_code
        self.soft = decline_code in SOFT_DECLINES
        self.provider_payment_id = provider_payment_id
        self.method = method  # what was declined (brand, last4), when the provider says


class PermanentProviderError(ProviderError):
    code = "provider_rejected"


# -- neutral objects ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MethodDetails:
    """Display data of a payment method; never a card number."""

    type: MethodType
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    bank_name: str | None = None
    wallet: str | None = None

    def to_json(self) -> dict[str, object]:
        if self.type == "card":
            return {
                "brand": self.brand,
                "last4": self.last4,
                "exp_month": self.exp_month,
                "exp_year": self.exp_year,
            }
        if self.type == "bank_account":
            return {"bank_name": self.bank_name, "last4": self.last4}
        return {"wallet": self.wallet}


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    idempotency_key: str
    amount: Money
    payment_method: str  # the provider's token for the payment method
    capture: bool = True
    customer_reference: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    idempotency_key: str
    provider_payment_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class CancelRequest:
    idempotency_key: str
    provider_payment_id: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    idempotency_key: str
    provider_payment_id: str
    amount: Money
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentMethodRequest:
    idempotency_key: str
    token: str


@dataclass(frozen=True, slots=True)
class ChargeResult:
    provider: str
    provider_payment_id: str
    status: PaymentStatus
    amount: Money
    amount_captured: Money
    method: MethodDetails | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider: str
    provider_refund_id: str
    status: RefundStatus
    amount: Money


@dataclass(frozen=True, slots=True)
class PaymentLookup:
    """Everything kassa asked a provider for about one payment, keyed by our idempotency keys.

    Adapters retrieve by ``provider_payment_id`` when they have one, else search by the
    charge's idempotency key (or replay the request with that key, which providers answer
    without charging again). The mock, which has no shared storage, derives its answer from
    these requests, so every process gets the same answer.
    """

    charge: ChargeRequest
    provider_payment_id: str | None = None
    captures: tuple[CaptureRequest, ...] = ()
    cancel: CancelRequest | None = None
    refunds: tuple[RefundRequest, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """The provider's view of a payment, for reconciliation."""

    provider: str
    provider_payment_id: str
    status: PaymentStatus
    amount: Money
    amount_captured: Money
    amount_refunded: Money
    decline_code: str | None = None
    method: MethodDetails | None = None


@dataclass(frozen=True, slots=True)
class PaymentMethodResult:
    provider: str
    token: str  # what later charges send as ``payment_method``
    details: MethodDetails


@runtime_checkable
class PayinProvider(Protocol):
    """A pay-in provider. Every method is idempotent on ``idempotency_key``."""

    name: str

    async def authorize(self, request: ChargeRequest) -> ChargeResult:
        """Charge (``capture=True``) or only authorize the payment method."""
        ...

    async def capture(self, request: CaptureRequest) -> ChargeResult:
        """Capture ``amount`` (at most what was authorized) of an authorized payment."""
        ...

    async def cancel(self, request: CancelRequest) -> ChargeResult:
        """Release an authorization that was not captured."""
        ...

    async def refund(self, request: RefundRequest) -> RefundResult:
        """Refund part or all of a captured payment."""
        ...

    async def retrieve(self, lookup: PaymentLookup) -> ProviderPayment | None:
        """The provider's record of a payment, or None when it never received the charge."""
        ...

    async def create_payment_method(self, request: PaymentMethodRequest) -> PaymentMethodResult:
        """Check a client-side token and return its display details."""
        ...
