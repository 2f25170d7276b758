"""BraintreeProvider: kassa's pay-in protocol over the official (synchronous) braintree SDK.

Every SDK call runs in a dedicated thread pool, never on the event loop. See the package
docstring for what idempotency the adapter guarantees and what it does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    ChargeResult,
    ConfirmRequest,
    PaymentLookup,
    PaymentMethodRequest,
    PaymentMethodResult,
    PermanentProviderError,
    ProviderError,
    ProviderPayment,
    RefundRequest,
    RefundResult,
    TransientProviderError,
)
from kassa.providers.braintree import codes, mapping
from kassa.providers.braintree.failures import (
    DECLINED_STATUSES,
    declined,
    rejected,
    translate,
    validation_codes,
)
from kassa.providers.braintree.gateway import build_gateway
from kassa.providers.braintree.sdk import braintree
from kassa.providers.errors import IDEMPOTENCY_MISMATCH, INVALID_PAYMENT_METHOD, PROVIDER_REJECTED

T = TypeVar("T")

# One pool for every Braintree adapter of the process: a hung call holds a thread until the
# SDK's own timeout, so the pool is sized for several of them without starving the others.
_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="braintree")

# Client-side nonces (Drop-in / Hosted Fields / the sandbox's fake-... nonces); anything else
# is taken for a vaulted payment method token.
_NONCE = re.compile(
    r"^(fake-[a-z0-9-]+|token[a-z]{2,}_[A-Za-z0-9_]+|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
DEFAULT_CURRENCY = "USD"


def is_nonce(value: str) -> bool:
    return bool(_NONCE.match(value))


def vault_id(idempotency_key: str) -> str:
    """A customer id derived from a key (Braintree ids: up to 36 of ``[A-Za-z0-9_-]``)."""
    return "kassa_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:30]


class BraintreeProvider:
    """One Braintree merchant's credentials. ``timeout`` bounds every HTTP call of the SDK."""

    # Waits before searching again for the sale a duplicate rejection points at.
    duplicate_search_delays: tuple[float, ...] = (0.0, 0.5, 1.5)

    def __init__(
        self,
        name: str = "braintree",
        *,
        merchant_id: str,
        public_key: str,
        private_key: str,
        environment: str = "sandbox",
        api_base: str | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.livemode = environment == "production"
        self._accounts: dict[str, str] | None = None  # currency -> merchant account id
        self._gateway = build_gateway(
            merchant_id=merchant_id,
            public_key=public_key,
            private_key=private_key,
            environment_name=environment,
            api_base=api_base,
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never the keys
        return f"BraintreeProvider({self.name!r})"

    # -- running the SDK off the loop -----------------------------------------------------
    async def _run(self, writes: bool, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(_EXECUTOR, partial(fn, *args))
        except ProviderError:
            raise
        except braintree.exceptions.NotFoundError:
            raise
        except Exception as exc:
            raise translate(self.name, exc, writes=writes) from None

    async def _find(self, transaction_id: str) -> Any | None:
        try:
            return await self._run(False, self._gateway.transaction.find, transaction_id)
        except braintree.exceptions.NotFoundError:
            return None

    async def _search(self, *criteria: Any) -> list[Any]:
        def search() -> list[Any]:
            return list(self._gateway.transaction.search(*criteria).items)

        return await self._run(False, search)

    async def _sales_for(self, key: str) -> list[Any]:
        ts = braintree.TransactionSearch
        return await self._search(ts.order_id == key, ts.type.in_list("sale"))

    async def _refunds_of(self, transaction: Any) -> list[Any]:
        ids = list(getattr(transaction, "refund_ids", None) or [])
        if not ids:
            return []
        return await self._search(braintree.TransactionSearch.ids.in_list(ids))

    def _not_found(self, transaction_id: str) -> PermanentProviderError:
        return PermanentProviderError(
            f"Braintree has no transaction {transaction_id!r}.",
            provider=self.name,
            code=PROVIDER_REJECTED.code,
        )

    def _charged(self, transaction: Any, currency: str) -> ChargeResult:
        """The charge a transaction is, or the decline it is."""
        if str(transaction.status) in DECLINED_STATUSES:
            raise declined(self.name, transaction, mapping.method_details(transaction))
        return mapping.charge_result(self.name, transaction, currency)

    # -- the protocol ------------------------------------------------------------------------
    async def authorize(self, request: ChargeRequest) -> ChargeResult:
        """A sale whose ``order_id`` is the idempotency key, unless one exists already."""
        currency = request.amount.currency
        existing = mapping.pick_sale(await self._sales_for(request.idempotency_key))
        if existing is not None and mapping.is_duplicate_rejection(existing):
            return await self._duplicate_of(request)
        if existing is not None:
            return self._repeated(existing, request)
        params: dict[str, Any] = {
            "amount": mapping.to_amount(request.amount),
            "merchant_account_id": await self._merchant_account_for(currency),
            "order_id": request.idempotency_key,
            "options": {"submit_for_settlement": request.capture},
        }
        if is_nonce(request.payment_method):
            params["payment_method_nonce"] = request.payment_method
        else:
            params["payment_method_token"] = request.payment_method
        result = await self._run(True, self._gateway.transaction.sale, params)
        if result.is_success:
            return mapping.charge_result(self.name, result.transaction, currency)
        transaction = result.transaction
        if transaction is None:
            raise rejected(self.name, result)
        if mapping.is_duplicate_rejection(transaction):
            return await self._duplicate_of(request)
        return self._charged(transaction, currency)

    def _repeated(self, existing: Any, request: ChargeRequest) -> ChargeResult:
        currency = request.amount.currency
        code = mapping.currency_of(existing, currency)
        if code != currency or mapping.authorized_amount(existing, code) != request.amount:
            raise PermanentProviderError(
                "This idempotency key was used for a Braintree sale of another amount.",
                provider=self.name,
                code=IDEMPOTENCY_MISMATCH.code,
            )
        return self._charged(existing, currency)

    async def _merchant_account_for(self, currency: str) -> str:
        """The merchant account that charges in ``currency`` (Braintree: one per currency;
        the default one first). Listed once per adapter."""
        if self._accounts is None:

            def listed() -> dict[str, str]:
                accounts = list(self._gateway.merchant_account.all().merchant_accounts.items)
                found: dict[str, str] = {}
                for account in sorted(accounts, key=lambda a: not getattr(a, "default", False)):
                    if getattr(account, "status", "active") == "active":
                        found.setdefault(str(account.currency_iso_code).upper(), str(account.id))
                return found

            self._accounts = await self._run(False, listed)
        if currency not in self._accounts:
            raise PermanentProviderError(
                f"This Braintree merchant has no active merchant account in {currency}.",
                provider=self.name,
                code=PROVIDER_REJECTED.code,
            )
        return self._accounts[currency]

    async def _duplicate_of(self, request: ChargeRequest) -> ChargeResult:
        """Braintree's duplicate checking rejected the sale: the first one exists (it has our
        order id) though its search index may not show it yet."""
        for delay in self.duplicate_search_delays:
            await asyncio.sleep(delay)
            existing = mapping.pick_sale(await self._sales_for(request.idempotency_key))
            if existing is not None and str(existing.status) in mapping.ACCEPTED:
                return self._repeated(existing, request)
        raise self._not_indexed_yet()

    def _not_indexed_yet(self) -> TransientProviderError:
        return TransientProviderError(
            "Braintree rejected a sale as a duplicate of one its search does not show yet.",
            provider=self.name,
            code=codes.DUPLICATE_PENDING,
            ambiguous=True,
        )

    async def confirm(self, request: ConfirmRequest) -> ChargeResult:
        """Braintree sales need no customer action after the nonce (3-D Secure runs in the
        browser before it): the transaction as it stands."""
        transaction = await self._find(request.provider_payment_id)
        if transaction is None:
            raise self._not_found(request.provider_payment_id)
        return self._charged(transaction, request.amount.currency)

    async def capture(self, request: CaptureRequest) -> ChargeResult:
        """Submit ``amount`` (at most the authorization) for settlement; submitting again
        returns the transaction as it was settled."""
        currency = request.amount.currency
        try:
            result = await self._run(
                True,
                self._gateway.transaction.submit_for_settlement,
                request.provider_payment_id,
                mapping.to_amount(request.amount),
            )
        except braintree.exceptions.NotFoundError:
            raise self._not_found(request.provider_payment_id) from None
        if result.is_success:
            return mapping.charge_result(self.name, result.transaction, currency)
        if codes.CANNOT_SUBMIT_FOR_SETTLEMENT in validation_codes(result):
            transaction = await self._find(request.provider_payment_id)
            if transaction is not None and mapping.payment_status(transaction) == "succeeded":
                return mapping.charge_result(self.name, transaction, currency)
        raise rejected(self.name, result)

    async def cancel(self, request: CancelRequest) -> ChargeResult:
        """Void an authorization that was not submitted for settlement (voiding one that was
        would cancel a capture: kassa refunds those instead)."""
        transaction = await self._find(request.provider_payment_id)
        if transaction is None:
            raise self._not_found(request.provider_payment_id)
        currency = mapping.currency_of(transaction, DEFAULT_CURRENCY)
        status = mapping.payment_status(transaction)
        if status == "canceled":
            return mapping.charge_result(self.name, transaction, currency)
        if status != "requires_capture":
            raise PermanentProviderError(
                f"Only an uncaptured authorization can be canceled; this one is "
                f"{transaction.status}.",
                provider=self.name,
                code=PROVIDER_REJECTED.code,
            )
        result = await self._run(True, self._gateway.transaction.void, transaction.id)
        if result.is_success:
            return mapping.charge_result(self.name, result.transaction, currency)
        if codes.CANNOT_BE_VOIDED in validation_codes(result):
            again = await self._find(request.provider_payment_id)
            if again is not None and mapping.payment_status(again) == "canceled":
                return mapping.charge_result(self.name, again, currency)
        raise rejected(self.name, result)

    async def refund(self, request: RefundRequest) -> RefundResult:
        """A refund (a credit transaction) whose ``order_id`` is the key, unless one exists."""
        ts = braintree.TransactionSearch
        found = await self._search(
            ts.order_id == request.idempotency_key, ts.type.in_list("credit")
        )
        if found:
            accepted = [r for r in found if mapping.refund_status(r) != "failed"]
            return self._refund_result((accepted or found)[0], request)
        try:
            result = await self._run(
                True,
                self._gateway.transaction.refund,
                request.provider_payment_id,
                {"amount": mapping.to_amount(request.amount), "order_id": request.idempotency_key},
            )
        except braintree.exceptions.NotFoundError:
            raise self._not_found(request.provider_payment_id) from None
        if result.is_success:
            return self._refund_result(result.transaction, request)
        if {codes.CANNOT_REFUND_UNLESS_SETTLED, codes.CANNOT_REFUND_SETTLING} & set(
            validation_codes(result)
        ):
            return await self._void_instead(request, result)
        raise rejected(self.name, result)

    async def _void_instead(self, request: RefundRequest, refused: Any) -> RefundResult:
        """Braintree refunds only settled transactions; before settlement the whole captured
        amount is given back by voiding the capture (money never moved). A part cannot be."""
        transaction = await self._find(request.provider_payment_id)
        whole = (
            transaction is not None
            and mapping.to_money(
                transaction.amount, mapping.currency_of(transaction, request.amount.currency)
            )
            == request.amount
            and not getattr(transaction, "refund_ids", None)
        )
        if transaction is not None and whole and mapping.captured_then_voided(transaction):
            return self._voided_refund(transaction, request)  # voided by this refund before
        if transaction is not None and whole and str(transaction.status) in mapping.VOIDABLE:
            result = await self._run(True, self._gateway.transaction.void, transaction.id)
            if result.is_success:
                return self._voided_refund(result.transaction, request)
            refused = result
        raise rejected(
            self.name,
            refused,
            "Braintree refunds a transaction once it has settled (usually within a day); "
            "until then only the whole captured amount can be given back. ",
        )

    def _voided_refund(self, transaction: Any, request: RefundRequest) -> RefundResult:
        return RefundResult(
            provider=self.name,
            provider_refund_id=str(transaction.id),  # a void has no refund transaction
            status="succeeded",
            amount=request.amount,
        )

    def _refund_result(self, refund: Any, request: RefundRequest) -> RefundResult:
        parent = getattr(refund, "refunded_transaction_id", None)
        code = mapping.currency_of(refund, request.amount.currency)
        amount = mapping.to_money(refund.amount, code)
        if parent != request.provider_payment_id or amount != request.amount:
            raise PermanentProviderError(
                "This idempotency key was used for another Braintree refund.",
                provider=self.name,
                code=IDEMPOTENCY_MISMATCH.code,
            )
        return RefundResult(
            provider=self.name,
            provider_refund_id=str(refund.id),
            status=mapping.refund_status(refund),
            amount=amount,
        )

    async def retrieve(self, lookup: PaymentLookup) -> ProviderPayment | None:
        """By the transaction id when kassa has it, else by the sale's order id."""
        transaction = None
        if lookup.provider_payment_id:
            transaction = await self._find(lookup.provider_payment_id)
        if transaction is None:
            transaction = mapping.pick_sale(await self._sales_for(lookup.idempotency_key))
        if transaction is None:
            return None
        if mapping.is_duplicate_rejection(transaction):
            raise self._not_indexed_yet()  # the sale it duplicates exists: never "failed"
        refunds = await self._refunds_of(transaction)
        return mapping.provider_payment(self.name, transaction, refunds, DEFAULT_CURRENCY)

    async def create_payment_method(self, request: PaymentMethodRequest) -> PaymentMethodResult:
        """A vaulted token's details; a nonce is vaulted first, on a customer whose id is
        derived from the key (so a repeat finds it instead of vaulting twice)."""
        if not is_nonce(request.token):
            method = await self._find_method(request.token)
            if method is None:
                raise PermanentProviderError(
                    "Braintree has no payment method with this token.",
                    provider=self.name,
                    code=INVALID_PAYMENT_METHOD.code,
                )
            return self._method_result(method)
        customer_id = vault_id(request.idempotency_key)
        result = await self._run(
            True,
            self._gateway.customer.create,
            {"id": customer_id, "payment_method_nonce": request.token},
        )
        if result.is_success:
            customer = result.customer
        elif codes.CUSTOMER_ID_IN_USE in validation_codes(result):
            try:
                customer = await self._run(False, self._gateway.customer.find, customer_id)
            except braintree.exceptions.NotFoundError:
                raise self._not_found(customer_id) from None
        else:
            raise rejected(self.name, result)
        methods = list(getattr(customer, "payment_methods", None) or [])
        if not methods:
            raise PermanentProviderError(
                "Braintree vaulted no payment method from this nonce.",
                provider=self.name,
                code=INVALID_PAYMENT_METHOD.code,
            )
        return self._method_result(methods[0])

    async def _find_method(self, token: str) -> Any | None:
        try:
            return await self._run(False, self._gateway.payment_method.find, token)
        except braintree.exceptions.NotFoundError:
            return None

    def _method_result(self, method: Any) -> PaymentMethodResult:
        details = mapping.method_details(method)
        if details is None:
            raise PermanentProviderError(
                "kassa takes Braintree cards and PayPal accounts only.",
                provider=self.name,
                code=INVALID_PAYMENT_METHOD.code,
            )
        return PaymentMethodResult(provider=self.name, token=str(method.token), details=details)
