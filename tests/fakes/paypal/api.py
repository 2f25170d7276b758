"""The PayPal endpoints the stand-in serves (Orders v2, Payments v2), over its Ledger.

Each handler answers as PayPal does, with PayPal's error shapes and issues; the server
(server.py) wraps them in authentication, PayPal-Request-Id idempotency, failure injection
and the OpenAPI check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from tests.fakes.paypal import openapi
from tests.fakes.paypal.state import Buyer, Json, Ledger, Order, now, payer_id, paypal_id

MESSAGES = {
    400: (
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
    ),
    404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
    422: (
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
    ),
    409: ("RESOURCE_CONFLICT", "The server has detected a conflict while processing this request."),
    500: ("INTERNAL_SERVER_ERROR", "An internal server error occurred."),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable."),
}


class PayPalRefusal(Exception):
    """An error answer: raised by a handler, rendered by the server."""

    def __init__(self, status: int, issue: str | None = None, description: str = "") -> None:
        super().__init__(issue or str(status))
        self.status = status
        self.issue = issue
        self.description = description

    def body(self) -> Json:
        name, message = MESSAGES.get(self.status, ("INTERNAL_SERVER_ERROR", "Error."))
        found: Json = {"name": name, "message": message, "debug_id": paypal_id().lower()[:13]}
        if self.issue:
            said = openapi.issue_description(self.issue) or self.description
            found["details"] = [{"issue": self.issue, "description": said}]
            found["links"] = [
                {
                    "href": f"https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{self.issue}",
                    "rel": "information_link",
                    "method": "GET",
                }
            ]
        return found


@dataclass
class Answer:
    """A handler's success: status, body, and how to render the resource again (a replay
    of the same PayPal-Request-Id answers the latest state of what the first request made)."""

    status: int
    body: Json
    again: Callable[[], Json]
    minimal: Callable[[], Json] | None = None


Event = Callable[[str, Json], Awaitable[None]]


def _amount(given: Any, *, currency: str | None = None) -> tuple[str, Decimal]:
    try:
        code, value = str(given["currency_code"]), Decimal(str(given["value"]))
    except (KeyError, TypeError, InvalidOperation):
        raise PayPalRefusal(400, "INVALID_PARAMETER_VALUE", "amount is malformed") from None
    if currency is not None and code != currency:
        raise PayPalRefusal(422, "CURRENCY_MISMATCH", f"the payment is in {currency}")
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > (0 if code in ("HUF", "JPY", "TWD") else 2):
        raise PayPalRefusal(422, "DECIMAL_PRECISION", "too many decimals for the currency")
    if value <= 0:
        raise PayPalRefusal(422, "CANNOT_BE_ZERO_OR_NEGATIVE")
    return code, value


class PayPalApi:
    ledger: Ledger
    buyers: dict[str, Buyer]
    declined_captures: int  # the next captures made with status DECLINED (failure injection)
    emit: Event

    def _order(self, order_id: str) -> Order:
        order = self.ledger.orders.get(order_id)
        if order is None:
            raise PayPalRefusal(404, "INVALID_RESOURCE_ID", f"order {order_id} not found")
        return order

    def _payment(self, table: dict[str, Json], payment_id: str) -> Json:
        found = table.get(payment_id)
        if found is None:
            raise PayPalRefusal(404, "INVALID_RESOURCE_ID", f"{payment_id} not found")
        return found

    # -- Orders v2 ----------------------------------------------------------------------------
    def create_order(self, body: Json) -> Answer:
        intent = body.get("intent")
        units = body.get("purchase_units")
        if intent not in ("CAPTURE", "AUTHORIZE") or not isinstance(units, list) or not units:
            raise PayPalRefusal(400, "MISSING_REQUIRED_PARAMETER", "intent and purchase_units")
        unit = dict(units[0])
        _amount(unit.get("amount"))
        wallet = (body.get("payment_source") or {}).get("paypal")
        order = Order(
            id=paypal_id(),
            intent=intent,
            unit=unit,
            wallet=wallet,
            status="PAYER_ACTION_REQUIRED" if wallet is not None else "CREATED",
        )
        self.ledger.orders[order.id] = order
        return Answer(
            201,
            self.ledger.render_order(order),
            lambda: self.ledger.render_order(order),
            lambda: self.ledger.minimal_order(order),
        )

    def get_order(self, order_id: str) -> Answer:
        order = self._order(order_id)
        return Answer(200, self.ledger.render_order(order), lambda: self.ledger.render_order(order))

    async def approve(self, order_id: str, email: str | None = None) -> Json:
        """The buyer logs in at PayPal and approves (the control API plays them)."""
        order = self._order(order_id)
        if order.status not in ("CREATED", "PAYER_ACTION_REQUIRED", "APPROVED"):
            raise PayPalRefusal(422, "ORDER_NOT_APPROVED", f"order is {order.status}")
        email = email or (order.wallet or {}).get("email_address") or "buyer@example.com"
        buyer = self.buyers.get(email) or Buyer(email, payer_id())
        self.buyers.setdefault(email, buyer)
        order.buyer, order.status, order.update_time = buyer, "APPROVED", now()
        rendered = self.ledger.render_order(order)
        await self.emit("CHECKOUT.ORDER.APPROVED", rendered)
        return rendered

    def _ready(self, order: Order, intent: str, *, already: str) -> None:
        if order.status == "COMPLETED":
            raise PayPalRefusal(422, already)
        if order.status != "APPROVED":
            raise PayPalRefusal(422, "ORDER_NOT_APPROVED", "the payer has not approved the order")
        if order.intent != intent:
            issue = (
                "ACTION_DOES_NOT_MATCH_INTENT"
                if intent == "AUTHORIZE"
                else "INCOMPATIBLE_PARAMETER_VALUE"
            )
            raise PayPalRefusal(422, issue, f"the order's intent is {order.intent}")

    def _capture_status(self) -> str:
        if self.declined_captures > 0:
            self.declined_captures -= 1
            return "DECLINED"
        return "COMPLETED"

    async def _captured(self, capture: Json) -> None:
        kind = (
            "PAYMENT.CAPTURE.DENIED"
            if capture["status"] == "DECLINED"
            else "PAYMENT.CAPTURE.COMPLETED"
        )
        await self.emit(kind, self.ledger.with_related_ids(capture))

    async def capture_order(self, order_id: str) -> Answer:
        order = self._order(order_id)
        self._ready(order, "CAPTURE", already="ORDER_ALREADY_CAPTURED")
        assert order.buyer is not None
        if order.buyer.declines:
            raise PayPalRefusal(422, "INSTRUMENT_DECLINED", "the buyer's funding was declined")
        capture = self.ledger.add_capture(
            order, order.unit["amount"], final=True, status=self._capture_status()
        )
        order.status, order.update_time = "COMPLETED", now()
        await self._captured(capture)
        return Answer(201, self.ledger.render_order(order), lambda: self.ledger.render_order(order))

    def authorize_order(self, order_id: str) -> Answer:
        order = self._order(order_id)
        self._ready(order, "AUTHORIZE", already="ORDER_ALREADY_AUTHORIZED")
        assert order.buyer is not None
        if order.buyer.declines:
            raise PayPalRefusal(422, "TRANSACTION_REFUSED", "the buyer's funding was refused")
        self.ledger.add_authorization(order)
        order.status, order.update_time = "COMPLETED", now()
        return Answer(201, self.ledger.render_order(order), lambda: self.ledger.render_order(order))

    # -- Payments v2 --------------------------------------------------------------------------
    def _rendered(self, table: dict[str, Json], payment_id: str) -> Callable[[], Json]:
        return lambda: self.ledger.with_related_ids(table[payment_id])

    def _minimal(self, table: dict[str, Json], payment_id: str) -> Callable[[], Json]:
        return lambda: {k: table[payment_id][k] for k in ("id", "status", "links")}

    def get_payment(self, kind: str, payment_id: str) -> Answer:
        table = getattr(self.ledger, kind)
        self._payment(table, payment_id)
        again = self._rendered(table, payment_id)
        return Answer(200, again(), again)

    async def capture_authorization(self, auth_id: str, body: Json) -> Answer:
        auth = self._payment(self.ledger.authorizations, auth_id)
        order = self.ledger.orders[self.ledger.order_of[auth_id]]
        if auth["status"] == "VOIDED":
            raise PayPalRefusal(422, "AUTHORIZATION_VOIDED")
        if auth["status"] == "CAPTURED":
            raise PayPalRefusal(422, "AUTHORIZATION_ALREADY_CAPTURED")
        held = Decimal(auth["amount"]["value"])
        taken = sum(
            (Decimal(self.ledger.captures[c]["amount"]["value"]) for c in order.capture_ids),
            Decimal(0),
        )
        amount = body.get("amount") or {
            "currency_code": order.currency,
            "value": str(held - taken),
        }
        _currency, value = _amount(amount, currency=order.currency)
        if value > held - taken:
            raise PayPalRefusal(422, "MAX_CAPTURE_AMOUNT_EXCEEDED", "more than is authorized")
        final = bool(body.get("final_capture"))
        capture = self.ledger.add_capture(order, amount, final=final, status=self._capture_status())
        done = final or taken + value >= held
        auth["status"], auth["update_time"] = ("CAPTURED" if done else "PARTIALLY_CAPTURED"), now()
        await self._captured(capture)
        return Answer(
            201,
            self.ledger.with_related_ids(capture),
            self._rendered(self.ledger.captures, capture["id"]),
            self._minimal(self.ledger.captures, capture["id"]),
        )

    def void_authorization(self, auth_id: str) -> Answer:
        auth = self._payment(self.ledger.authorizations, auth_id)
        if auth["status"] == "VOIDED":
            raise PayPalRefusal(422, "PREVIOUSLY_VOIDED")
        if auth["status"] in ("CAPTURED", "PARTIALLY_CAPTURED"):
            raise PayPalRefusal(422, "PREVIOUSLY_CAPTURED")
        auth["status"], auth["update_time"] = "VOIDED", now()
        again = self._rendered(self.ledger.authorizations, auth_id)
        return Answer(200, again(), again, lambda: {})

    async def refund_capture(self, capture_id: str, body: Json) -> Answer:
        capture = self._payment(self.ledger.captures, capture_id)
        if capture["status"] == "REFUNDED":
            raise PayPalRefusal(422, "CAPTURE_FULLY_REFUNDED")
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            raise PayPalRefusal(422, "REFUND_NOT_ALLOWED", f"the capture is {capture['status']}")
        left = Decimal(capture["amount"]["value"]) - self.ledger.refunded(capture_id)
        amount = body.get("amount") or {
            "currency_code": capture["amount"]["currency_code"],
            "value": str(left),
        }
        _, value = _amount(amount, currency=capture["amount"]["currency_code"])
        if value > left:
            raise PayPalRefusal(422, "REFUND_AMOUNT_EXCEEDED", "more than is left to refund")
        refund = self.ledger.add_refund(capture_id, amount, body.get("note_to_payer"))
        await self.emit("PAYMENT.CAPTURE.REFUNDED", refund)
        return Answer(
            201,
            refund,
            self._rendered(self.ledger.refunds, refund["id"]),
            self._minimal(self.ledger.refunds, refund["id"]),
        )


def json_response(status: int, body: Json | None) -> web.Response:
    if status == 204 or body is None:
        return web.Response(status=204)
    return web.json_response(body, status=status)
