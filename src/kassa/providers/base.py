"""What kassa needs from a pay-in provider and a payout provider: Protocols, neutral objects and
one error tree.

Every adapter (mock, Stripe, PayPal, Braintree) takes and returns these objects; conversion to
the provider's units and shapes happens inside the adapter, never in the domain. Every call
carries an idempotency key derived from kassa's own ids (``pay_.../authorize``,
``re_...``), so repeating a call can never move money twice.

The error tree (what the caller may do about each)::

    ProviderError                 base; ``provider`` and a stable ``code``
    ├── TransientProviderError    timeouts, 5xx, open circuit: retry later, and fail over to
    │   │                         the next provider *unless* ``ambiguous`` (the provider may
    │   │                         have acted, e.g. a timeout after sending: only the same
    │   │                         provider asked with the same key can tell)
    │   └── RateLimitedError      the provider refused this one request for now (HTTP 429):
    │                             retried and failed over like any transient error, but it
    │                             says nothing about the provider's health, so it never
    │                             counts towards a circuit breaker
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
from kassa.providers.errors import PROVIDER_REJECTED

PaymentStatus = Literal["requires_action", "requires_capture", "succeeded", "failed", "canceled"]
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

ADVICE_CODES = frozenset({"try_again_later", "do_not_try_again", "confirm_card_data"})


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


class RateLimitedError(TransientProviderError):
    code = "rate_limited"


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
        advice_code: str | None = None,
        network_decline_code: str | None = None,
        network_advice_code: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.decline_code = decline_code
        # The issuer's advice, when the provider passes it on (Stripe's ``advice_code``:
        # try_again_later, do_not_try_again, confirm_card_data), outranks the code table.
        self.soft = (
            advice_code == "try_again_later"
            if advice_code in ADVICE_CODES
            else decline_code in SOFT_DECLINES
        )
        self.provider_payment_id = provider_payment_id
        self.method = method  # what was declined (brand, last4), when the provider says
        self.advice_code = advice_code
        # The card network's own codes (e.g. Visa "51"), for retry rules that follow them.
        self.network_decline_code = network_decline_code
        self.network_advice_code = network_advice_code


class PermanentProviderError(ProviderError):
    code = PROVIDER_REJECTED.code


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
class NextAction:
    """What the customer must do before a charge can finish (status ``requires_action``):
    3-D Secure in the merchant's page with the provider's JS (``use_sdk``, with the
    ``client_secret`` it needs), or a visit to the provider (``redirect_to_url``: PayPal's
    approve link, a bank's page), coming back to the charge's ``return_url``."""

    type: Literal["use_sdk", "redirect_to_url"]
    redirect_url: str | None = None
    client_secret: str | None = None

    def to_json(self) -> dict[str, object]:
        if self.type == "redirect_to_url":
            return {"type": self.type, "redirect_to_url": {"url": self.redirect_url}}
        return {"type": self.type, "use_sdk": {"client_secret": self.client_secret}}


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    idempotency_key: str
    amount: Money
    payment_method: str  # the provider's token for the payment method
    capture: bool = True
    customer_reference: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    return_url: str | None = None  # where a customer comes back after a redirect action


@dataclass(frozen=True, slots=True)
class ConfirmRequest:
    """Finish a charge the customer acted on (3-D Secure done, PayPal order approved): the
    provider's payment as it stands now, authorized or captured as the charge asked."""

    idempotency_key: str  # ``pay_.../confirm``
    provider_payment_id: str
    amount: Money
    capture: bool = True


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
    next_action: NextAction | None = None  # set exactly when status is requires_action


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider: str
    provider_refund_id: str
    status: RefundStatus
    amount: Money


@dataclass(frozen=True, slots=True)
class PaymentLookup:
    """How kassa names one payment to its provider, as real providers let it be found: the
    idempotency key its charge was sent with (``pay_.../authorize``; providers keep it, or
    adapters put it in the charge's metadata and search by it), and the provider's own id
    once the provider answered. A lookup is a read: it never charges, captures or refunds.
    """

    idempotency_key: str
    provider_payment_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """The provider's record of a payment (what it actually did), for reconciliation."""

    provider: str
    provider_payment_id: str
    status: PaymentStatus
    amount: Money
    amount_captured: Money
    amount_refunded: Money
    decline_code: str | None = None
    method: MethodDetails | None = None
    next_action: NextAction | None = None  # what the customer must do, when requires_action


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

    async def confirm(self, request: ConfirmRequest) -> ChargeResult:
        """After the customer's action: the charge finished (authorized or captured, as it
        was asked), failed (DeclinedError), or still ``requires_action`` when the customer
        has not acted yet. Never charges twice: the provider's own idempotency holds."""
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
        """The provider's own record of the payment ``lookup`` names (by its id, else by the
        charge's idempotency key), with the captures, cancellation and refunds it made; None
        when it never received that charge. Never charges."""
        ...

    async def create_payment_method(self, request: PaymentMethodRequest) -> PaymentMethodResult:
        """Check a client-side token and return its display details."""
        ...


# -- payouts -----------------------------------------------------------------------------------
# What kassa needs from a payout provider (Rise.works, the mock; later PayPal Payouts, Stripe
# Connect, Wise): the same error tree as pay-ins, neutral objects, Money in minor units, and an
# idempotency key on every write (Rise: a salt derived from it), so a retry never pays twice.
# Payout declines (``DeclinedError.decline_code``): ``payee_not_payable`` (KYC not approved,
# account closed), ``insufficient_funds`` (the payer's balance, soft: fund and retry).
PayoutStatus = Literal["pending", "processing", "completed", "failed", "unknown"]
KycStatus = Literal["not_started", "pending", "approved", "rejected"]
PAYEE_NOT_PAYABLE = "payee_not_payable"


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """One payment to one payee. ``idempotency_key`` names it for good (``po_.../send``): the
    same key asked again returns the provider's transaction for it, never a second one."""

    idempotency_key: str
    payee_id: str  # the provider's id of the payee (Rise: the payee's RiseID address)
    amount: Money
    description: str | None = None


@dataclass(frozen=True, slots=True)
class BatchPayoutRequest:
    """Payments sent together. Each keeps its own idempotency key; the batch's key names the
    groups the adapter sends (one per ``batch_limit`` payments)."""

    idempotency_key: str
    payouts: tuple[PayoutRequest, ...]


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """The provider's answer for one payment.

    - ``unknown``: the provider may have acted; a status lookup or a retry with the same key
      tells (the key makes the retry safe);
    - ``failed`` and ``retryable``: nothing was paid and the same key may succeed later (the
      provider was unavailable for this part of a batch, a soft decline such as the payer's
      balance);
    - ``failed`` and not ``retryable``: the provider recorded the payment as failed (payee not
      payable, rejected on chain); that key is spent, a new attempt takes a new key.
    """

    provider: str
    idempotency_key: str
    status: PayoutStatus
    amount: Money
    payee_id: str
    provider_transaction_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class BatchPayoutResult:
    provider: str
    idempotency_key: str
    provider_batch_ids: tuple[str, ...]  # one per group the adapter sent
    results: tuple[PayoutResult, ...]  # one per payout, in the request's order


@dataclass(frozen=True, slots=True)
class PayoutLookup:
    """A payment named as ``PaymentLookup`` names a charge: by the key it was sent with, and
    the provider's transaction id once known. A lookup never pays."""

    idempotency_key: str
    payee_id: str
    amount: Money
    provider_transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class PayeeInfo:
    provider: str
    payee_id: str
    email: str | None
    kyc_status: KycStatus
    can_receive_payments: bool


@dataclass(frozen=True, slots=True)
class InviteRequest:
    """Invite a person to open a payee account (Rise: ``POST /riseid/invite``)."""

    idempotency_key: str
    email: str
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True, slots=True)
class InviteResult:
    provider: str
    invite_id: str
    email: str
    status: Literal["sent", "accepted"]
    payee_id: str | None = None  # once the invitee has an account


@dataclass(frozen=True, slots=True)
class PayoutBalance:
    provider: str
    available: Money  # what can be paid out now, rounded down to a whole minor unit


@runtime_checkable
class PayoutProvider(Protocol):
    """A payout provider. Every write is idempotent on its request's ``idempotency_key``."""

    name: str
    batch_limit: int  # payments per provider batch; ``send_batch_payment`` splits above it

    async def authenticate(self) -> None:
        """Sign in (or check the credentials) now; later calls sign in again as needed."""
        ...

    async def send_payment(self, request: PayoutRequest) -> PayoutResult:
        """Pay one payee. Raises the error tree (``DeclinedError`` ``payee_not_payable`` or
        ``insufficient_funds``, ``PermanentProviderError``, ``TransientProviderError``)."""
        ...

    async def send_batch_payment(self, request: BatchPayoutRequest) -> BatchPayoutResult:
        """Pay many payees; one result per payout (a batch may partly succeed). Raises, as
        ``send_payment`` does, when the batch fails as a whole before any part of it went
        through (credentials, a bad request, the provider unavailable or declining it all)."""
        ...

    async def get_payment_status(self, lookup: PayoutLookup) -> PayoutResult | None:
        """The provider's state of the payment, or None when it never received it."""
        ...

    async def get_payee_info(self, payee_id: str) -> PayeeInfo:
        """The payee's account and KYC state; ``PermanentProviderError`` (invalid_payee) when
        the provider does not know it."""
        ...

    async def balance(self, currency: str) -> PayoutBalance:
        """The payer's balance available for payouts in ``currency``."""
        ...

    async def invite_payee(self, request: InviteRequest) -> InviteResult:
        """Invite someone to open a payee account; the same key (or e-mail) invites once."""
        ...
