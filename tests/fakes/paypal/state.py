"""What the PayPal stand-in remembers: orders and the authorizations, captures and refunds
made for them, kept as PayPal's own JSON shapes (Orders v2 / Payments v2) and rendered the way
PayPal renders them. Amounts are PayPal's decimal strings, added with Decimal."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

Json = dict[str, Any]
_ALPHABET = string.ascii_uppercase + string.digits


def paypal_id() -> str:
    """An id shaped like PayPal's (17 upper-case letters and digits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(17))


def payer_id() -> str:
    """A payer or merchant account id as PayPal shapes it (13 characters, no 0/1/I/O)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(13))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(currency: str, value: Decimal) -> Json:
    places = 0 if currency in ("HUF", "JPY", "TWD") else 2
    return {"currency_code": currency, "value": f"{value:.{places}f}"}


@dataclass
class Buyer:
    email: str
    payer_id: str
    declines: bool = False  # every capture or authorization of their funding is declined


@dataclass
class Order:
    id: str
    intent: str  # CAPTURE | AUTHORIZE
    unit: Json  # the purchase unit as requested (amount, custom_id, invoice_id, ...)
    wallet: Json | None  # payment_source.paypal as requested (experience_context, email)
    status: str
    create_time: str = field(default_factory=now)
    update_time: str = field(default_factory=now)
    buyer: Buyer | None = None
    authorization_ids: list[str] = field(default_factory=list)
    capture_ids: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return str(self.unit["amount"]["currency_code"])

    @property
    def value(self) -> Decimal:
        return Decimal(self.unit["amount"]["value"])


@dataclass
class Ledger:
    base: str  # the stand-in's own URL, for HATEOAS links
    web: str  # where buyers approve (PayPal's checkout pages)
    orders: dict[str, Order] = field(default_factory=dict)
    authorizations: dict[str, Json] = field(default_factory=dict)
    captures: dict[str, Json] = field(default_factory=dict)
    refunds: dict[str, Json] = field(default_factory=dict)
    order_of: dict[str, str] = field(default_factory=dict)  # payment id -> order id
    refunds_of: dict[str, list[str]] = field(default_factory=dict)  # capture id -> refunds

    def link(self, path: str, rel: str, method: str = "GET") -> Json:
        return {"href": f"{self.base}{path}", "rel": rel, "method": method}

    # -- rendering ----------------------------------------------------------------------------
    def order_links(self, order: Order) -> list[Json]:
        path = f"/v2/checkout/orders/{order.id}"
        links = [self.link(path, "self")]
        if order.status in ("CREATED", "PAYER_ACTION_REQUIRED"):
            rel = "payer-action" if order.wallet is not None else "approve"
            links.append(
                {"href": f"{self.web}/checkoutnow?token={order.id}", "rel": rel, "method": "GET"}
            )
        if order.status == "APPROVED":
            verb = "capture" if order.intent == "CAPTURE" else "authorize"
            links.append(self.link(f"{path}/{verb}", verb, "POST"))
        return links

    def render_order(self, order: Order) -> Json:
        unit = {k: v for k, v in order.unit.items()}
        payments: Json = {}
        if order.authorization_ids:
            payments["authorizations"] = [self.authorizations[i] for i in order.authorization_ids]
        if order.capture_ids:
            payments["captures"] = [self.captures[i] for i in order.capture_ids]
            made = [r for c in order.capture_ids for r in self.refunds_of.get(c, [])]
            if made:
                payments["refunds"] = [self.refunds[r] for r in made]
        if payments:
            unit["payments"] = payments
        body: Json = {
            "id": order.id,
            "intent": order.intent,
            "status": order.status,
            "purchase_units": [unit],
            "create_time": order.create_time,
            "update_time": order.update_time,
            "links": self.order_links(order),
        }
        source: Json = {}
        if order.wallet is not None:
            source = {k: v for k, v in order.wallet.items() if k != "experience_context"}
        if order.buyer is not None:
            source = {
                "email_address": order.buyer.email,
                "account_id": order.buyer.payer_id,
                "account_status": "VERIFIED",
            }
            body["payer"] = {"email_address": order.buyer.email, "payer_id": order.buyer.payer_id}
        if order.wallet is not None or order.buyer is not None:
            body["payment_source"] = {"paypal": source}
        return body

    def minimal_order(self, order: Order) -> Json:
        return {"id": order.id, "status": order.status, "links": self.order_links(order)}

    # -- money moves --------------------------------------------------------------------------
    def add_authorization(self, order: Order) -> Json:
        auth_id = paypal_id()
        path = f"/v2/payments/authorizations/{auth_id}"
        made: Json = {
            "id": auth_id,
            "status": "CREATED",
            "amount": dict(order.unit["amount"]),
            "invoice_id": order.unit.get("invoice_id"),
            "custom_id": order.unit.get("custom_id"),
            "seller_protection": {"status": "ELIGIBLE"},
            "expiration_time": later(29),
            "create_time": now(),
            "update_time": now(),
            "links": [
                self.link(path, "self"),
                self.link(f"{path}/capture", "capture", "POST"),
                self.link(f"{path}/void", "void", "POST"),
                self.link(f"/v2/checkout/orders/{order.id}", "up"),
            ],
        }
        self.authorizations[auth_id] = {k: v for k, v in made.items() if v is not None}
        self.order_of[auth_id] = order.id
        order.authorization_ids.append(auth_id)
        return self.authorizations[auth_id]

    def add_capture(self, order: Order, amount: Json, *, final: bool, status: str) -> Json:
        capture_id = paypal_id()
        path = f"/v2/payments/captures/{capture_id}"
        made: Json = {
            "id": capture_id,
            "status": status,
            "amount": dict(amount),
            "invoice_id": order.unit.get("invoice_id"),
            "custom_id": order.unit.get("custom_id"),
            "final_capture": final,
            "seller_protection": {"status": "ELIGIBLE"},
            "create_time": now(),
            "update_time": now(),
            "links": [
                self.link(path, "self"),
                self.link(f"{path}/refund", "refund", "POST"),
                self.link(f"/v2/checkout/orders/{order.id}", "up"),
            ],
        }
        if status == "DECLINED":
            made["processor_response"] = {"response_code": "5120"}  # insufficient funds
        self.captures[capture_id] = {k: v for k, v in made.items() if v is not None}
        self.order_of[capture_id] = order.id
        order.capture_ids.append(capture_id)
        return self.captures[capture_id]

    def refunded(self, capture_id: str) -> Decimal:
        return sum(
            (
                Decimal(self.refunds[r]["amount"]["value"])
                for r in self.refunds_of.get(capture_id, [])
                if self.refunds[r]["status"] in ("COMPLETED", "PENDING")
            ),
            Decimal(0),
        )

    def add_refund(self, capture_id: str, amount: Json, note: str | None) -> Json:
        refund_id = paypal_id()
        capture = self.captures[capture_id]
        made: Json = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": dict(amount),
            "create_time": now(),
            "update_time": now(),
            "links": [
                self.link(f"/v2/payments/refunds/{refund_id}", "self"),
                self.link(f"/v2/payments/captures/{capture_id}", "up"),
            ],
        }
        if note:
            made["note_to_payer"] = note
        self.refunds[refund_id] = made
        self.refunds_of.setdefault(capture_id, []).append(refund_id)
        left = Decimal(capture["amount"]["value"]) - self.refunded(capture_id)
        capture["status"] = "REFUNDED" if left <= 0 else "PARTIALLY_REFUNDED"
        capture["update_time"] = now()
        return made

    def with_related_ids(self, payment: Json) -> Json:
        """A payment as the Payments v2 API renders it: with the ids of its order."""
        order_id = self.order_of.get(str(payment["id"]))
        if order_id is None:
            return payment
        return {**payment, "supplementary_data": {"related_ids": {"order_id": order_id}}}
