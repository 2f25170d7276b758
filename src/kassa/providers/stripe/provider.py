"""StripeProvider: kassa's pay-ins over Stripe's PaymentIntents API, with the official SDK.

One ``stripe.StripeClient`` per event loop, on the SDK's httpx transport, speaking
``STRIPE_API_VERSION`` (see the package docstring). The SDK's own retries are off
(``max_network_retries=0``): retries, timeouts and circuit breakers are resilience.py's, and
every write carries kassa's idempotency key as Stripe's ``Idempotency-Key``, so a retry is
answered with the first request's result instead of moving money again.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import stripe

from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    ChargeResult,
    ConfirmRequest,
    DeclinedError,
    PaymentLookup,
    PaymentMethodRequest,
    PaymentMethodResult,
    PaymentStatus,
    PermanentProviderError,
    ProviderPayment,
    RefundRequest,
    RefundResult,
    RefundStatus,
    TransientProviderError,
)
from kassa.providers.errors import INVALID_PAYMENT_METHOD, PROVIDER_PROCESSING, PROVIDER_REJECTED
from kassa.providers.stripe.amounts import from_stripe, to_stripe
from kassa.providers.stripe.failures import declined, map_error
from kassa.providers.stripe.shapes import (
    amounts,
    intent_method,
    method_details,
    next_action,
    status_of,
)
from kassa.providers.stripe.version import STRIPE_API_VERSION

T = TypeVar("T")
DEFAULT_API_BASE = "https://api.stripe.com"
METADATA_KEY = "kassa_idempotency_key"  # the charge's key, also in the intent's metadata
CUSTOMER_METADATA = "kassa_customer_id"
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
# Search lags writes ("under a minute; up to an hour during outages"): a lookup by key that
# search misses also lists the intents of the last hour, which the list API has at once.
RECENT_SECONDS = 3600
RECENT_PAGES = 10
_REFUND_STATUS: dict[str, RefundStatus] = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}
_EXPAND = ["latest_charge"]


class _HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx transport, handing the encoded form body to httpx as ``content``
    (httpx deprecates ``data=`` for a ready-made body, which is what the SDK passes)."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Any, post_data: Any
    ) -> list[Any]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return [args, kwargs]


def _params(values: dict[str, Any]) -> Any:
    """Request parameters as the SDK's TypedDicts take them (built here as plain dicts)."""
    return values


def split_token(token: str) -> tuple[str | None, str]:
    """(customer, payment method) of a token: ``cus_...:pm_...`` for a method kassa saved
    (attached to a Stripe customer, so it may be charged again), else a bare ``pm_...``."""
    customer, sep, method = token.partition(":")
    if sep and customer.startswith("cus_"):
        return customer, method
    return None, token


def _key_of(intent: stripe.PaymentIntent) -> str | None:
    # A StripeObject is not a dict: it has ``in`` and ``[]``, no ``get``.
    metadata: Any = intent.metadata
    if metadata is None or METADATA_KEY not in metadata:
        return None
    return str(metadata[METADATA_KEY])


def _search_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StripeProvider:
    """A PayinProvider for one Stripe account (one secret key)."""

    def __init__(
        self,
        name: str = "stripe",
        *,
        secret_key: str,
        api_base: str | None = None,
        webhook_secrets: tuple[str, ...] = (),
        timeout: float = 20.0,
        max_network_retries: int = 0,
    ) -> None:
        self.name = name
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self.webhook_secrets = webhook_secrets  # for inbound verification (webhooks/inbound)
        self.livemode = secret_key.startswith(("sk_live_", "rk_live_"))
        self.timeout = timeout
        self.max_network_retries = max_network_retries
        self._secret_key = secret_key
        # httpx pools connections per event loop: each loop gets its own SDK client.
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[_HTTPXClient, stripe.StripeClient]
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:  # never the key
        return f"StripeProvider(name={self.name!r}, api_base={self.api_base!r})"

    # -- the SDK client -----------------------------------------------------------------------
    def _client(self) -> stripe.StripeClient:
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is None:
            http = _HTTPXClient(timeout=self.timeout)
            client = stripe.StripeClient(
                self._secret_key,
                stripe_version=STRIPE_API_VERSION,
                base_addresses={"api": self.api_base},
                http_client=http,
                max_network_retries=self.max_network_retries,
            )
            found = self._clients[loop] = (http, client)
        return found[1]

    async def aclose(self) -> None:
        """Close this event loop's connections."""
        found = self._clients.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[0].close_async()  # type: ignore[no-untyped-call]

    async def _call(self, fn: Callable[[stripe.StripeClient], Awaitable[T]], *, write: bool) -> T:
        try:
            return await fn(self._client())
        except stripe.StripeError as exc:
            raise map_error(self.name, exc, write=write) from exc

    @staticmethod
    def _key(idempotency_key: str) -> Any:
        return {"idempotency_key": idempotency_key}

    # -- results --------------------------------------------------------------------------------
    def _declined(self, intent: stripe.PaymentIntent) -> DeclinedError | PermanentProviderError:
        error = intent.last_payment_error
        if error is None:
            return PermanentProviderError(
                "The Stripe PaymentIntent has no payment method to charge.",
                provider=self.name,
                code=PROVIDER_REJECTED.code,
            )

        def field(name: str) -> str | None:  # Stripe sends only the fields it has
            value = getattr(error, name, None)
            return str(value) if value is not None else None

        pm = getattr(error, "payment_method", None)
        return declined(
            self.name,
            field("message") or "The payment was declined.",
            code=field("code"),
            decline_code=field("decline_code"),
            advice_code=field("advice_code"),
            network_decline_code=field("network_decline_code"),
            network_advice_code=field("network_advice_code"),
            payment_id=intent.id,
            method=intent_method(intent) or (method_details(pm) if pm is not None else None),
        )

    def _status(self, intent: stripe.PaymentIntent) -> PaymentStatus:
        status = status_of(intent)
        if status is None:  # processing: Stripe has not decided yet; ask again later
            raise TransientProviderError(
                f"Stripe is still working on the payment ({intent.status}).",
                provider=self.name,
                code=PROVIDER_PROCESSING,
                ambiguous=True,
            )
        return status

    def _charge_result(self, intent: stripe.PaymentIntent) -> ChargeResult:
        status = self._status(intent)
        if status == "failed":
            raise self._declined(intent)
        amount, captured = amounts(intent)
        return ChargeResult(
            provider=self.name,
            provider_payment_id=intent.id,
            status=status,
            amount=amount,
            amount_captured=captured,
            method=intent_method(intent),
            next_action=next_action(intent) if status == "requires_action" else None,
        )

    # -- PayinProvider ----------------------------------------------------------------------------
    async def authorize(self, request: ChargeRequest) -> ChargeResult:
        customer, method = split_token(request.payment_method)
        metadata = {**request.metadata, METADATA_KEY: request.idempotency_key}
        if request.customer_reference:
            metadata[CUSTOMER_METADATA] = request.customer_reference
        params: dict[str, Any] = {
            "amount": to_stripe(request.amount, self.name),
            "currency": request.amount.currency.lower(),
            "payment_method": method,
            "confirm": True,
            # Explicit: since 2024-04-10 Stripe's default is automatic_async.
            "capture_method": "automatic" if request.capture else "manual",
            "metadata": metadata,
            "expand": _EXPAND,
        }
        if customer:
            params["customer"] = customer
        if request.description:
            params["description"] = request.description
        if request.return_url:
            params["return_url"] = request.return_url
        else:  # since 2023-08-16 a confirm without return_url needs this, or Stripe says 400
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        intent = await self._call(
            lambda c: c.v1.payment_intents.create_async(
                _params(params), self._key(request.idempotency_key)
            ),
            write=True,
        )
        return self._charge_result(intent)

    async def confirm(self, request: ConfirmRequest) -> ChargeResult:
        """The intent as it stands after the customer's action: Stripe finishes the charge
        itself once 3-D Secure is done (the intent confirms automatically), so this is a
        read; only an intent left ``requires_confirmation`` is confirmed, with the key."""
        intent = await self._call(
            lambda c: c.v1.payment_intents.retrieve_async(
                request.provider_payment_id, _params({"expand": _EXPAND})
            ),
            write=False,
        )
        if intent.status == "requires_confirmation":
            intent = await self._call(
                lambda c: c.v1.payment_intents.confirm_async(
                    request.provider_payment_id,
                    _params({"expand": _EXPAND}),
                    self._key(request.idempotency_key),
                ),
                write=True,
            )
        return self._charge_result(intent)

    async def capture(self, request: CaptureRequest) -> ChargeResult:
        params = {"amount_to_capture": to_stripe(request.amount, self.name), "expand": _EXPAND}
        intent = await self._call(
            lambda c: c.v1.payment_intents.capture_async(
                request.provider_payment_id, _params(params), self._key(request.idempotency_key)
            ),
            write=True,
        )
        return self._charge_result(intent)

    async def cancel(self, request: CancelRequest) -> ChargeResult:
        intent = await self._call(
            lambda c: c.v1.payment_intents.cancel_async(
                request.provider_payment_id,
                _params({"expand": _EXPAND}),
                self._key(request.idempotency_key),
            ),
            write=True,
        )
        return self._charge_result(intent)

    async def refund(self, request: RefundRequest) -> RefundResult:
        metadata = {METADATA_KEY: request.idempotency_key}
        params: dict[str, Any] = {
            "payment_intent": request.provider_payment_id,
            "amount": to_stripe(request.amount, self.name),
            "metadata": metadata,
        }
        if request.reason in REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:  # Stripe takes three reasons; kassa's own is kept beside
            metadata["kassa_reason"] = request.reason[:500]
        refund = await self._call(
            lambda c: c.v1.refunds.create_async(
                _params(params), self._key(request.idempotency_key)
            ),
            write=True,
        )
        return RefundResult(
            provider=self.name,
            provider_refund_id=refund.id,
            status=_REFUND_STATUS.get(refund.status or "", "pending"),
            amount=from_stripe(refund.amount, refund.currency),
        )

    # -- lookups ----------------------------------------------------------------------------------
    async def _intent(self, intent_id: str) -> stripe.PaymentIntent | None:
        try:
            return await self._client().v1.payment_intents.retrieve_async(
                intent_id, _params({"expand": _EXPAND})
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            raise map_error(self.name, exc, write=False) from exc
        except stripe.StripeError as exc:
            raise map_error(self.name, exc, write=False) from exc

    async def _find_by_key(self, key: str) -> str | None:
        """The id of the intent created with ``key``: Stripe's search, then (search lags
        behind writes) the list of the last hour's intents."""
        query = f"metadata[{_search_literal(METADATA_KEY)}]:{_search_literal(key)}"
        found = await self._call(
            lambda c: c.v1.payment_intents.search_async(_params({"query": query, "limit": 10})),
            write=False,
        )
        for intent in found.data:
            if _key_of(intent) == key:
                return intent.id
        params: dict[str, Any] = {"created": {"gte": int(time.time()) - RECENT_SECONDS}}
        params["limit"] = 100
        for _ in range(RECENT_PAGES):
            page = await self._call(
                lambda c: c.v1.payment_intents.list_async(_params(dict(params))), write=False
            )
            for intent in page.data:
                if _key_of(intent) == key:
                    return intent.id
            if not page.has_more or not page.data:
                break
            params["starting_after"] = page.data[-1].id
        return None

    async def _refunded(self, intent: stripe.PaymentIntent, zero: Money) -> Money:
        if not intent.amount_received:
            return zero
        refunds = await self._call(
            lambda c: c.v1.refunds.list_async(_params({"payment_intent": intent.id, "limit": 100})),
            write=False,
        )
        total = zero
        for refund in refunds.data:
            if refund.status in ("succeeded", "pending", "requires_action"):
                total = total + from_stripe(refund.amount, refund.currency)
        return total

    async def retrieve(self, lookup: PaymentLookup) -> ProviderPayment | None:
        intent_id = lookup.provider_payment_id or await self._find_by_key(lookup.idempotency_key)
        intent = await self._intent(intent_id) if intent_id else None
        if intent is None:
            return None
        status = self._status(intent)
        amount, captured = amounts(intent)
        error = intent.last_payment_error if status == "failed" else None
        return ProviderPayment(
            provider=self.name,
            provider_payment_id=intent.id,
            status=status,
            amount=amount,
            amount_captured=captured,
            amount_refunded=await self._refunded(intent, Money.zero(amount.currency)),
            decline_code=(
                (getattr(error, "decline_code", None) or getattr(error, "code", None))
                if error is not None
                else None
            ),
            method=intent_method(intent),
            next_action=next_action(intent) if status == "requires_action" else None,
        )

    # -- payment methods and customers ------------------------------------------------------------
    async def create_payment_method(self, request: PaymentMethodRequest) -> PaymentMethodResult:
        """Check a PaymentMethod from Stripe.js and make it chargeable again: a method not yet
        on a Stripe customer is attached to a new one (Stripe lets a bare method be used
        once). The token kassa keeps names both: ``cus_...:pm_...``."""
        customer, method_id = split_token(request.token)
        try:
            method = await self._client().v1.payment_methods.retrieve_async(method_id)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                raise PermanentProviderError(
                    "Stripe does not know that payment method.",
                    provider=self.name,
                    code=INVALID_PAYMENT_METHOD.code,
                ) from exc
            raise map_error(self.name, exc, write=False) from exc
        except stripe.StripeError as exc:
            raise map_error(self.name, exc, write=False) from exc
        owner = method.customer if isinstance(method.customer, str) else customer
        if owner is None:
            owner = await self.create_customer(f"{request.idempotency_key}/customer")
            method = await self._call(
                lambda c: c.v1.payment_methods.attach_async(
                    method_id,
                    _params({"customer": owner}),
                    self._key(f"{request.idempotency_key}/attach"),
                ),
                write=True,
            )
        details = method_details(method)
        if details is None:
            raise PermanentProviderError(
                "The Stripe payment method has no type kassa can show.",
                provider=self.name,
                code=INVALID_PAYMENT_METHOD.code,
            )
        return PaymentMethodResult(
            provider=self.name, token=f"{owner}:{method.id}", details=details
        )

    async def create_customer(self, idempotency_key: str, **fields: str) -> str:
        """A Stripe customer (``email``, ``name``, ``description``); its id."""
        params = {**fields, "metadata": {METADATA_KEY: idempotency_key}}
        found = await self._call(
            lambda c: c.v1.customers.create_async(_params(params), self._key(idempotency_key)),
            write=True,
        )
        return found.id

    async def detach_payment_method(self, token: str, idempotency_key: str) -> None:
        """Take a saved method off its customer: Stripe will never charge it again."""
        _, method_id = split_token(token)
        await self._call(
            lambda c: c.v1.payment_methods.detach_async(
                method_id, options=self._key(idempotency_key)
            ),
            write=True,
        )
