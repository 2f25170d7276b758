"""The stand-in's records: transactions, vaulted cards, customers, and its answers."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.fakes.braintree.cards import Card
from tests.fakes.braintree.xml import Array

ACCEPTED = {
    "authorized",
    "submitted_for_settlement",
    "settling",
    "settled",
    "settlement_pending",
    "settlement_confirmed",
    "voided",
}
SOFT = {"2000", "2001", "2002", "2003", "2038", "2046", "3000"}
ALPHABET = string.ascii_lowercase + string.digits


def new_id(length: int = 8) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def money(value: Decimal) -> str:
    return f"{value:.2f}"


@dataclass
class Answer:
    status: int
    root: str
    body: Any
    settle: list[str] = field(default_factory=list)  # transaction ids to settle afterwards


@dataclass
class StatusEvent:
    status: str
    amount: Decimal
    at: datetime


@dataclass
class Transaction:
    id: str
    type: str  # sale | credit
    status: str
    amount: Decimal
    card: Card
    order_id: str | None
    created_at: datetime
    created_clock: float
    merchant_account_id: str = ""
    token: str | None = None
    customer_id: str | None = None
    processor_code: str = "1000"
    rejection: str | None = None
    settlement_code: str | None = None
    refund_ids: list[str] = field(default_factory=list)
    refunded_transaction_id: str | None = None
    history: list[StatusEvent] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    updated_at: datetime = field(default_factory=now)

    def move(self, status: str, amount: Decimal | None = None) -> None:
        self.status = status
        self.updated_at = now()
        self.history.append(
            StatusEvent(status, amount if amount is not None else self.amount, self.updated_at)
        )


@dataclass
class VaultedCard:
    token: str
    card: Card
    customer_id: str
    created_at: datetime


@dataclass
class Customer:
    id: str
    created_at: datetime
    tokens: list[str] = field(default_factory=list)


def api_error(
    message: str,
    errors: list[tuple[str, str, str]] | None = None,
    scope: tuple[str, ...] = ("transaction",),
    transaction: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Answer:
    """``<api-error-response>`` as the gateway sends it (HTTP 422)."""
    listed = Array(
        "error",
        [{"code": code, "attribute": attr, "message": text} for code, attr, text in errors or []],
    )
    nested: dict[str, Any] = {"errors": listed}
    for name in reversed(scope):
        nested = {"errors": Array("error", []), name: nested}
    body: dict[str, Any] = {"errors": nested, "params": params or {}, "message": message}
    if transaction is not None:
        body["transaction"] = transaction
        body["errors"] = {"errors": Array("error", [])}
    return Answer(422, "api_error_response", body)
