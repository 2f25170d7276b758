"""Pay-in objects as the API shows them: payments, their attempts, refunds, payment methods,
customers. Events carry exactly these (``views.payment_json`` is ``PaymentOut.of(...)`` as
JSON values).

``of`` hands a row's values to ``model_validate`` as one dict: pydantic-core checks and
builds the whole object in a few microseconds, several times faster than ``model_construct``
(which is Python), and a value the documentation does not allow (a status it does not list)
fails here instead of reaching a client. The hot path builds a payment four times per
request (three events and the answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from kassa.core.money import Money
from kassa.core.schemas import MoneyOut, Out
from kassa.payins.models import (
    Customer,
    Dispute,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    Refund,
)

PaymentStatus = Literal[
    "pending",
    "processing",
    "requires_action",
    "requires_capture",
    "succeeded",
    "failed",
    "canceled",
    "partially_refunded",
    "refunded",
]
RefundStatus = Literal["pending", "succeeded", "failed"]
DisputeStatus = Literal["needs_response", "under_review", "won", "lost", "closed"]
MethodType = Literal["card", "bank_account", "wallet"]


def _absent(value: object) -> bool:
    return value is None


def _money(minor: int, currency: str) -> dict[str, Any]:
    return Money(minor, currency).to_json()


class CardOut(Out):
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


class BankAccountOut(Out):
    bank_name: str | None
    last4: str | None


class WalletOut(Out):
    wallet: str | None


# A method's display data sits under the key its ``type`` names ("card": {...}); the keys of
# the other two types are absent, not null.
_CARD = "Present when type is card."
_BANK_ACCOUNT = "Present when type is bank_account."
_WALLET = "Present when type is wallet."


class PaymentMethodSummaryOut(Out):
    """The method a payment was made with, as it was then."""

    id: str | None = Field(description="The saved pm_ id; null for a provider token.")
    type: MethodType
    card: CardOut | SkipJsonSchema[None] = Field(None, exclude_if=_absent, description=_CARD)
    bank_account: BankAccountOut | SkipJsonSchema[None] = Field(
        None, exclude_if=_absent, description=_BANK_ACCOUNT
    )
    wallet: WalletOut | SkipJsonSchema[None] = Field(None, exclude_if=_absent, description=_WALLET)


class UseSdkOut(Out):
    client_secret: str | SkipJsonSchema[None] = Field(
        None,
        exclude_if=_absent,
        description="What the provider's JS in your page needs to run the challenge (Stripe.js "
        "handleNextAction). Only in the API's answers to your keys: events leave it out.",
    )


class RedirectToUrlOut(Out):
    url: str = Field(description="Send the customer here (PayPal's approve link, a bank page).")


class NextActionOut(Out):
    """What the customer must do before the payment can finish (status requires_action)."""

    type: Literal["use_sdk", "redirect_to_url"]
    use_sdk: UseSdkOut | SkipJsonSchema[None] = Field(
        None, exclude_if=_absent, description="Present when type is use_sdk."
    )
    redirect_to_url: RedirectToUrlOut | SkipJsonSchema[None] = Field(
        None, exclude_if=_absent, description="Present when type is redirect_to_url."
    )


def _next_action(stored: dict[str, Any] | None, *, client_secret: bool) -> dict[str, Any] | None:
    if stored is None or client_secret or "use_sdk" not in stored:
        return stored
    return {**stored, "use_sdk": {}}  # the secret is for the merchant's page only


class AttemptOut(Out):
    """One call to one provider for the payment (failover, retries, reconciliation)."""

    operation: str = Field(description="authorize, confirm, capture, cancel, refund or lookup.")
    provider: str
    idempotency_key: str = Field(description="The key kassa sent to the provider.")
    outcome: str
    error_code: str | None
    error_message: str | None
    elapsed_ms: int
    created_at: datetime

    @classmethod
    def of(cls, attempt: PaymentAttempt) -> AttemptOut:
        return cls.model_validate(_attempt(attempt))


def _attempt(attempt: PaymentAttempt) -> dict[str, Any]:
    return {
        "operation": attempt.operation,
        "provider": attempt.provider,
        "idempotency_key": attempt.idempotency_key,
        "outcome": attempt.outcome,
        "error_code": attempt.error_code,
        "error_message": attempt.error_message,
        "elapsed_ms": attempt.elapsed_ms,
        "created_at": attempt.created_at,
    }


class PaymentOut(Out):
    id: str
    object: Literal["payment"] = "payment"
    status: PaymentStatus
    amount: MoneyOut
    amount_capturable: MoneyOut = Field(description="Authorized and not captured yet.")
    amount_captured: MoneyOut
    amount_refunded: MoneyOut
    capture: bool = Field(description="false: authorized first, captured later.")
    customer_id: str | None
    payment_method: PaymentMethodSummaryOut | None
    description: str | None
    metadata: dict[str, str]
    provider: str
    provider_payment_id: str | None
    failure_code: str | None
    failure_message: str | None
    decline_code: str | None
    next_action: NextActionOut | None = Field(
        description="While requires_action: what the customer must do; null otherwise."
    )
    return_url: str | None = Field(
        description="Where the provider sends the customer back after a redirect action."
    )
    attempts: list[AttemptOut] = Field(description="Every provider call made for it, in order.")
    dispute_id: str | None = Field(
        description="The payment's latest dispute (dp_...) once its customer disputed it; "
        "null if never disputed."
    )
    livemode: bool
    canceled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls,
        payment: Payment,
        attempts: Sequence[PaymentAttempt] = (),
        *,
        client_secret: bool = False,
    ) -> PaymentOut:
        """``client_secret``: show ``next_action``'s client secret (the API's answers to the
        merchant do; events never carry it)."""
        c = payment.currency
        method: dict[str, Any] | None = None
        if payment.method_type is not None:
            method = {
                "id": payment.payment_method_id,
                "type": payment.method_type,
                payment.method_type: payment.method_details or {},
            }
        return cls.model_validate(
            {
                "id": payment.id,
                "status": payment.status,
                "amount": _money(payment.amount, c),
                "amount_capturable": _money(payment.amount_capturable, c),
                "amount_captured": _money(payment.amount_captured, c),
                "amount_refunded": _money(payment.amount_refunded, c),
                "capture": payment.capture,
                "customer_id": payment.customer_id,
                "payment_method": method,
                "description": payment.description,
                "metadata": payment.metadata_,
                "provider": payment.provider,
                "provider_payment_id": payment.provider_payment_id,
                "failure_code": payment.failure_code,
                "failure_message": payment.failure_message,
                "decline_code": payment.decline_code,
                "next_action": _next_action(payment.next_action, client_secret=client_secret),
                "return_url": payment.return_url,
                "attempts": [_attempt(a) for a in attempts],
                "dispute_id": payment.dispute_id,
                "livemode": payment.livemode,
                "canceled_at": payment.canceled_at,
                "created_at": payment.created_at,
                "updated_at": payment.updated_at,
            }
        )


class RefundOut(Out):
    id: str
    object: Literal["refund"] = "refund"
    payment_id: str
    status: RefundStatus
    amount: MoneyOut
    reason: str | None
    metadata: dict[str, str]
    provider: str
    provider_refund_id: str | None
    failure_code: str | None
    failure_message: str | None
    livemode: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls.model_validate(
            {
                "id": refund.id,
                "payment_id": refund.payment_id,
                "status": refund.status,
                "amount": _money(refund.amount, refund.currency),
                "reason": refund.reason,
                "metadata": refund.metadata_,
                "provider": refund.provider,
                "provider_refund_id": refund.provider_refund_id,
                "failure_code": refund.failure_code,
                "failure_message": refund.failure_message,
                "livemode": refund.livemode,
                "created_at": refund.created_at,
                "updated_at": refund.updated_at,
            }
        )


class DisputeOut(Out):
    """A customer's dispute of a payment (a chargeback, an inquiry, a PayPal case), as its
    provider reports it."""

    id: str
    object: Literal["dispute"] = "dispute"
    payment_id: str
    status: DisputeStatus = Field(
        description="needs_response and under_review are open; won, lost and closed are final "
        "(closed: ended without a decision on the money, e.g. an inquiry that went no further)."
    )
    amount: MoneyOut = Field(description="The amount disputed.")
    reason: str | None = Field(description="The provider's reason, in lower case.")
    provider: str
    provider_dispute_id: str
    evidence_due_by: datetime | None = Field(
        description="When the provider needs the merchant's evidence by, if it says."
    )
    livemode: bool
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, dispute: Dispute) -> DisputeOut:
        return cls.model_validate(
            {
                "id": dispute.id,
                "payment_id": dispute.payment_id,
                "status": dispute.status,
                "amount": _money(dispute.amount, dispute.currency),
                "reason": dispute.reason,
                "provider": dispute.provider,
                "provider_dispute_id": dispute.provider_dispute_id,
                "evidence_due_by": dispute.evidence_due_by,
                "livemode": dispute.livemode,
                "closed_at": dispute.closed_at,
                "created_at": dispute.created_at,
                "updated_at": dispute.updated_at,
            }
        )


class PaymentMethodOut(Out):
    """A saved payment method: a provider token's display data, never a card number."""

    id: str
    object: Literal["payment_method"] = "payment_method"
    type: MethodType
    card: CardOut | SkipJsonSchema[None] = Field(None, exclude_if=_absent, description=_CARD)
    bank_account: BankAccountOut | SkipJsonSchema[None] = Field(
        None, exclude_if=_absent, description=_BANK_ACCOUNT
    )
    wallet: WalletOut | SkipJsonSchema[None] = Field(None, exclude_if=_absent, description=_WALLET)
    customer_id: str | None
    provider: str
    metadata: dict[str, str]
    livemode: bool
    detached_at: datetime | None = Field(description="Set once deleted: then usable no more.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, method: PaymentMethod) -> PaymentMethodOut:
        return cls.model_validate(_method(method))


def _method(method: PaymentMethod) -> dict[str, Any]:
    return {
        "id": method.id,
        "type": method.type,
        method.type: method.details,
        "customer_id": method.customer_id,
        "provider": method.provider,
        "metadata": method.metadata_,
        "livemode": method.livemode,
        "detached_at": method.detached_at,
        "created_at": method.created_at,
        "updated_at": method.updated_at,
    }


class DeletedPaymentMethodOut(PaymentMethodOut):
    """The method as it is once deleted (detached), marked ``deleted``."""

    deleted: Literal[True] = True

    @classmethod
    def of(cls, method: PaymentMethod) -> DeletedPaymentMethodOut:
        return cls.model_validate(_method(method))


class CustomerOut(Out):
    id: str
    object: Literal["customer"] = "customer"
    email: str | None
    name: str | None
    description: str | None
    metadata: dict[str, str]
    livemode: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls.model_validate(
            {
                "id": customer.id,
                "email": customer.email,
                "name": customer.name,
                "description": customer.description,
                "metadata": customer.metadata_,
                "livemode": customer.livemode,
                "created_at": customer.created_at,
                "updated_at": customer.updated_at,
            }
        )
