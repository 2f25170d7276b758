"""PayPalProvider: kassa's pay-in protocol on PayPal's Orders v2 and Payments v2 APIs.

**Ids.** A payment's ``provider_payment_id`` is the PayPal *order* id, for its whole life:
capture, void and refund read the order and act on the authorization or capture PayPal made
for it (kassa makes one of each per order: captures are final). Refunds are named by PayPal's
refund id.

**Payment methods.** The buyer picks the funding at PayPal, so a charge's ``payment_method``
is ``paypal`` or ``paypal:<email>`` (the email prefills PayPal's login). Vaulted PayPal
accounts (charging without the buyer) are out of scope: ``create_payment_method`` only checks
that form, without a call.

**Flow.** ``authorize`` creates the order (intent CAPTURE, or AUTHORIZE for ``capture=False``)
and answers ``requires_action`` with the ``payer-action`` link; ``confirm``, once the buyer
approved, captures or authorizes the order; a declined funding source is a ``DeclinedError``
(``paypal:UNPROCESSABLE_ENTITY/INSTRUMENT_DECLINED``, or ``paypal:DECLINED/<processor code>``
for a capture PayPal made and the processor declined). Canceling an order never approved
needs no call (PayPal moves no money for an order the merchant neither captures nor
authorizes; it expires); an authorization is voided.

**Looking up by key.** PayPal has no search by ``custom_id`` or request id. When kassa knows
no order id (the create's answer was lost), ``retrieve`` repeats the create with the same
``PayPal-Request-Id`` and a marked stand-in body: PayPal answers a request id it has with the
order it made then (it keeps ids 6 hours; 72 on request), and otherwise creates a new, marked
order whose approve link nobody ever receives, and which expires: creating an order never
moves money. That marked order says "never received"; its key is then spent, which is right,
as kassa never sends a charge again under a key the provider did not receive. After PayPal's
retention only the order id finds the payment.
"""

from __future__ import annotations

from typing import Any

from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    ChargeResult,
    ConfirmRequest,
    DeclinedError,
    NextAction,
    PaymentLookup,
    PaymentMethodRequest,
    PaymentMethodResult,
    PermanentProviderError,
    ProviderPayment,
    RefundRequest,
    RefundResult,
    RefundStatus,
)
from kassa.providers.errors import (
    IDEMPOTENCY_MISMATCH,
    INVALID_PAYMENT_METHOD,
    PROVIDER_REJECTED,
)
from kassa.providers.paypal import orders
from kassa.providers.paypal.amounts import from_paypal, to_paypal
from kassa.providers.paypal.client import PayPalClient
from kassa.providers.paypal.failures import first_issue

ORDERS = "/v2/checkout/orders"
PROBE = "kassa-lookup-probe"  # custom_id of the order a by-key lookup makes when none exists
REFUND_STATUS: dict[str, RefundStatus] = {
    "COMPLETED": "succeeded",
    "PENDING": "pending",
    "FAILED": "failed",
    "CANCELLED": "failed",
}


def _email_of(token: str) -> str | None:
    """The buyer's email in ``paypal:<email>``; None for ``paypal``; ValueError otherwise."""
    if token == "paypal":
        return None
    kind, _, email = token.partition(":")
    if kind != "paypal" or "@" not in email:
        raise ValueError(token)
    return email


class PayPalProvider:
    test_only = False

    def __init__(self, name: str, client: PayPalClient) -> None:
        self.name = name
        self.client = client

    # -- helpers ----------------------------------------------------------------------------
    def _refuse(self, message: str, code: str = PROVIDER_REJECTED.code) -> PermanentProviderError:
        return PermanentProviderError(message, provider=self.name, code=code)

    def _payer_email(self, token: str) -> str | None:
        try:
            return _email_of(token)
        except ValueError:
            raise self._refuse(
                "PayPal charges take payment_method 'paypal' (or 'paypal:<buyer email>'): the "
                "buyer chooses the funding at PayPal.",
                INVALID_PAYMENT_METHOD.code,
            ) from None

    async def _order(self, order_id: str) -> dict[str, Any]:
        return await self.client.call("GET", f"{ORDERS}/{order_id}", payment_id=order_id)

    async def _full(self, order: dict[str, Any]) -> dict[str, Any]:
        """The whole order, when PayPal answered a minimal one (``Prefer`` is only a wish)."""
        return order if "purchase_units" in order else await self._order(str(order["id"]))

    def _charge_result(self, order: orders.Json, *, link: str | None = None) -> ChargeResult:
        """The order as a charge's answer; a declined one raised as DeclinedError."""
        status = orders.status_of(order)
        order_id = str(order["id"])
        declined = orders.declined_capture(order)
        if status == "failed":
            code = (
                orders.capture_decline_code(declined) if declined else "paypal:AUTHORIZATION/DENIED"
            )
            raise DeclinedError(
                f"PayPal declined the payment ({code}).",
                provider=self.name,
                decline_code=code,
                provider_payment_id=order_id,
                method=orders.method_of(order),
            )
        action = None
        if status == "requires_action":
            url = orders.approve_link(order) or link
            if url is None:
                raise self._refuse(f"PayPal gave no approve link for order {order_id}.")
            action = NextAction(type="redirect_to_url", redirect_url=url)
        return ChargeResult(
            provider=self.name,
            provider_payment_id=order_id,
            status=status,
            amount=orders.amount(order),
            amount_captured=orders.amount_captured(order),
            method=orders.method_of(order),
            next_action=action,
        )

    def _order_request(self, request: ChargeRequest) -> dict[str, Any]:
        email = self._payer_email(request.payment_method)
        key = request.idempotency_key
        unit: dict[str, Any] = {
            "reference_id": "default",
            "amount": to_paypal(request.amount, provider=self.name),
            "custom_id": key,  # kassa's key on PayPal's side, in webhooks and reports too
            "invoice_id": key,
        }
        if request.description:
            unit["description"] = request.description[:127]
        experience: dict[str, Any] = {
            "shipping_preference": "NO_SHIPPING",
            "user_action": "PAY_NOW" if request.capture else "CONTINUE",
        }
        if request.return_url:
            # Back to kassa's return either way: confirm tells approved from abandoned.
            experience["return_url"] = request.return_url
            experience["cancel_url"] = request.return_url
        wallet: dict[str, Any] = {"experience_context": experience}
        if email:
            wallet["email_address"] = email
        return {
            "intent": "CAPTURE" if request.capture else "AUTHORIZE",
            "purchase_units": [unit],
            "payment_source": {"paypal": wallet},
        }

    # -- PayinProvider ----------------------------------------------------------------------
    async def authorize(self, request: ChargeRequest) -> ChargeResult:
        key = request.idempotency_key
        answer = await self.client.send(
            "POST", ORDERS, body=self._order_request(request), request_id=key
        )
        if not answer.ok:
            raise self.client.error(answer)
        created = await self._full(answer.body)
        unit = orders.unit(created)
        if unit.get("custom_id") not in (None, key) or orders.amount(created) != request.amount:
            raise self._refuse(
                "PayPal holds another order under this idempotency key.", IDEMPOTENCY_MISMATCH.code
            )
        link = orders.approve_link(created)
        if answer.status == 200:  # a replay: what became of the order since
            created = await self._order(str(created["id"]))
        return self._charge_result(created, link=link)

    async def confirm(self, request: ConfirmRequest) -> ChargeResult:
        order_id = request.provider_payment_id
        order = await self._order(order_id)
        if order.get("status") == "APPROVED":
            verb = "capture" if order.get("intent") == "CAPTURE" else "authorize"
            answer = await self.client.send(
                "POST", f"{ORDERS}/{order_id}/{verb}", body={}, request_id=request.idempotency_key
            )
            if answer.ok:
                order = await self._full(answer.body)
            elif first_issue(answer.body) in ("ORDER_ALREADY_CAPTURED", "ORDER_ALREADY_AUTHORIZED"):
                order = await self._order(order_id)  # completed meanwhile (a webhook's confirm)
            else:
                raise self.client.error(answer, payment_id=order_id)
        return self._charge_result(order)

    async def capture(self, request: CaptureRequest) -> ChargeResult:
        order_id = request.provider_payment_id
        order = await self._order(order_id)
        held = orders.open_authorization(order)
        if held is None:
            raise self._refuse(f"PayPal order {order_id} has no authorization to capture.")
        made = await self.client.call(
            "POST",
            f"/v2/payments/authorizations/{held['id']}/capture",
            body={"amount": to_paypal(request.amount, provider=self.name), "final_capture": True},
            request_id=request.idempotency_key,
            payment_id=order_id,
        )
        state = made.get("status")
        if state in orders.CAPTURE_FAILED:
            code = orders.capture_decline_code(made)
            raise DeclinedError(
                f"PayPal declined the capture ({code}).",
                provider=self.name,
                decline_code=code,
                provider_payment_id=order_id,
            )
        captured = from_paypal(made["amount"]) if made.get("amount") else request.amount
        return ChargeResult(
            provider=self.name,
            provider_payment_id=order_id,
            status="succeeded",
            amount=orders.amount(order),
            amount_captured=captured,
            method=orders.method_of(order),
        )

    async def cancel(self, request: CancelRequest) -> ChargeResult:
        order_id = request.provider_payment_id
        order = await self._order(order_id)
        status = orders.status_of(order)
        if status == "requires_capture":
            held = orders.open_authorization(order)
            assert held is not None
            answer = await self.client.send(
                "POST",
                f"/v2/payments/authorizations/{held['id']}/void",
                body=None,
                request_id=request.idempotency_key,
            )
            if not answer.ok and first_issue(answer.body) != "PREVIOUSLY_VOIDED":
                raise self.client.error(answer, payment_id=order_id)
        elif status == "succeeded":
            raise self._refuse(f"PayPal order {order_id} is captured: refund it instead.")
        zero = Money.zero(orders.amount(order).currency)
        return ChargeResult(
            provider=self.name,
            provider_payment_id=order_id,
            status="canceled",
            amount=orders.amount(order),
            amount_captured=zero,
            method=orders.method_of(order),
        )

    async def refund(self, request: RefundRequest) -> RefundResult:
        order_id = request.provider_payment_id
        order = await self._order(order_id)
        capture = orders.refundable_capture(order)
        if capture is None:
            raise self._refuse(f"PayPal order {order_id} has no capture to refund.")
        body: dict[str, Any] = {"amount": to_paypal(request.amount, provider=self.name)}
        if request.reason:
            body["note_to_payer"] = request.reason[:255]
        made = await self.client.call(
            "POST",
            f"/v2/payments/captures/{capture['id']}/refund",
            body=body,
            request_id=request.idempotency_key,
            payment_id=order_id,
        )
        return RefundResult(
            provider=self.name,
            provider_refund_id=str(made["id"]),
            status=REFUND_STATUS.get(str(made.get("status")), "pending"),
            amount=from_paypal(made["amount"]) if made.get("amount") else request.amount,
        )

    async def _order_of_key(self, key: str) -> dict[str, Any] | None:
        """The order created under ``key`` (see the module's docstring), or None."""
        probe = {
            "intent": "CAPTURE",
            "purchase_units": [
                {"amount": {"currency_code": "USD", "value": "1.00"}, "custom_id": PROBE}
            ],
        }
        found = await self._full(await self.client.call("POST", ORDERS, body=probe, request_id=key))
        if orders.unit(found).get("custom_id") == PROBE:
            return None
        return await self._order(str(found["id"]))

    async def retrieve(self, lookup: PaymentLookup) -> ProviderPayment | None:
        if lookup.provider_payment_id is None:
            order = await self._order_of_key(lookup.idempotency_key)
            if order is None:
                return None
        else:
            answer = await self.client.send("GET", f"{ORDERS}/{lookup.provider_payment_id}")
            if answer.status == 404:
                return None
            if not answer.ok:
                raise self.client.error(answer)
            order = answer.body
        declined = orders.declined_capture(order)
        status = orders.status_of(order)
        return ProviderPayment(
            provider=self.name,
            provider_payment_id=str(order["id"]),
            status=status,
            amount=orders.amount(order),
            amount_captured=orders.amount_captured(order),
            amount_refunded=orders.amount_refunded(order),
            decline_code=(
                orders.capture_decline_code(declined)
                if declined
                else "paypal:AUTHORIZATION/DENIED"
                if status == "failed"
                else None
            ),
            method=orders.method_of(order),
        )

    async def create_payment_method(self, request: PaymentMethodRequest) -> PaymentMethodResult:
        self._payer_email(request.token)
        return PaymentMethodResult(
            provider=self.name, token=request.token, details=orders.PAYPAL_WALLET
        )
