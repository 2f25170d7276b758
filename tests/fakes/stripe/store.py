"""The stand-in's records and the parts of Stripe's API every endpoint shares: error answers,
rendering with ``expand``, events, and the PaymentMethods and Customers endpoints."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.stripe import objects
from tests.fakes.stripe.cards import CARDS, TestCard


class Fail(Exception):
    """An error answer. ``stored``: execution began, so an idempotency key keeps it (Stripe
    keeps no result for a request refused while its parameters were validated)."""

    def __init__(self, status: int, error: dict[str, Any], *, stored: bool = False) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        self.stored = stored


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> Fail:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    return Fail(400, error)


def missing(kind: str, value: str, param: str = "id") -> Fail:
    failure = invalid(f"No such {kind}: '{value}'", param=param, code="resource_missing")
    failure.status = 404 if param == "id" else 400
    return failure


def int_param(params: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    raw = params.get(name)
    if raw is None:
        if required:
            raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    if not isinstance(raw, str) or not raw.isdigit():
        raise invalid(f"Invalid integer: {raw}", param=name, code="parameter_invalid_integer")
    return int(raw)


def flag(params: dict[str, Any], name: str) -> bool:
    return str(params.get(name, "false")).lower() == "true"


@dataclass
class Request:
    """What a handler knows of the call that reached it, and the events it caused."""

    base_url: str
    request_id: str
    idempotency_key: str | None
    api_version: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Store:
    livemode: bool = False
    search_lag: float = 0.0  # seconds before a new PaymentIntent shows in search results
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    cards: dict[str, TestCard] = field(default_factory=dict)  # by payment method id
    used_once: set[str] = field(default_factory=set)  # methods used without a customer
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: dict[str, float] = field(default_factory=dict)
    three_ds_done: set[str] = field(default_factory=set)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_log: list[dict[str, Any]] = field(default_factory=list)

    # -- rendering --------------------------------------------------------------------------
    def render(self, obj: dict[str, Any], expand: list[str] | None = None) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        for path in expand or []:
            head, _, rest = path.partition(".")
            value = out.get(head)
            found = self._lookup(value) if isinstance(value, str) else None
            if found is not None:
                out[head] = self.render(found, [rest] if rest else None)
        return out

    def _lookup(self, object_id: str) -> dict[str, Any] | None:
        for table in (self.charges, self.payment_methods, self.customers, self.intents):
            if object_id in table:
                return table[object_id]
        return None

    def _emit(self, ctx: Request | None, type_: str, obj: dict[str, Any]) -> None:
        event = objects.event(
            type_,
            copy.deepcopy(obj),
            api_version=ctx.api_version if ctx else "2026-10-28.endive",
            request_id=ctx.request_id if ctx else None,
            idempotency_key=ctx.idempotency_key if ctx else None,
        )
        self.events[event["id"]] = event
        self.event_log.append(event)
        if ctx is not None:
            ctx.events.append(event)

    # -- payment methods and customers ------------------------------------------------------
    def _method(self, token: str, param: str = "payment_method") -> dict[str, Any]:
        card = CARDS.get(token)
        if card is not None:  # a test token: a new PaymentMethod each time, as Stripe does
            method = objects.payment_method(card, livemode=self.livemode)
            self.payment_methods[method["id"]] = method
            self.cards[method["id"]] = card
            return method
        if token not in self.payment_methods:
            raise missing("PaymentMethod", token, param)
        return self.payment_methods[token]

    def retrieve_method(self, method_id: str) -> dict[str, Any]:
        if method_id in CARDS:
            return self._method(method_id, "id")
        if method_id not in self.payment_methods:
            raise missing("payment_method", method_id)
        return self.payment_methods[method_id]

    def attach(self, method_id: str, params: dict[str, Any], ctx: Request) -> dict[str, Any]:
        customer_id = params.get("customer")
        if not customer_id:
            raise invalid("Missing required param: customer.", param="customer")
        if customer_id not in self.customers:
            raise missing("customer", customer_id, "customer")
        method = self._method(method_id, "payment_method")
        if method["id"] in self.used_once:
            raise invalid(
                "This PaymentMethod was previously used without being attached to a Customer "
                "or was detached from a Customer, and may not be used again.",
                param="payment_method",
            )
        if method["customer"] not in (None, customer_id):
            raise invalid("The payment method you provided is already attached to a customer.")
        method["customer"] = customer_id
        self._emit(ctx, "payment_method.attached", method)
        return method

    def detach(self, method_id: str, ctx: Request) -> dict[str, Any]:
        method = self.retrieve_method(method_id)
        if method["customer"] is None:
            raise invalid(
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                code="payment_method_unexpected_state",
            )
        method["customer"] = None
        self.used_once.add(method["id"])  # a detached method is never usable again
        self._emit(ctx, "payment_method.detached", method)
        return method

    def create_customer(self, params: dict[str, Any], ctx: Request) -> dict[str, Any]:
        found = objects.customer(params, livemode=self.livemode)
        self.customers[found["id"]] = found
        self._emit(ctx, "customer.created", found)
        return found

    def retrieve_customer(self, customer_id: str) -> dict[str, Any]:
        if customer_id not in self.customers:
            raise missing("customer", customer_id)
        return self.customers[customer_id]

    def retrieve(
        self, table: dict[str, dict[str, Any]], kind: str, object_id: str
    ) -> dict[str, Any]:
        if object_id not in table:
            raise missing(kind, object_id)
        return table[object_id]
