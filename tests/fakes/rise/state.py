"""The stand-in's records: payees, transactions, intents, invites, injected faults."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any


def nanoid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


@dataclass
class Payee:
    riseid: str
    email: str
    kyc_status: str = "approved"  # not_started | pending | approved | rejected

    def to_json(self) -> dict[str, Any]:
        return {
            "riseid": self.riseid,
            "email": self.email,
            "kyc_status": self.kyc_status,
            "can_receive_payments": self.kyc_status == "approved",
        }


@dataclass
class Transaction:
    nanoid: str
    salt: int
    group_id: str
    recipient: str
    units: int  # USDC base units
    cents: int
    state: str  # intent | scheduled | complete | removed
    created_at: float
    error: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "nanoid": self.nanoid,
            "salt": str(self.salt),
            "payment_group_nanoid": self.group_id,
            "recipient": self.recipient,
            "amount": str(self.units),
            "amount_cents": self.cents,
            "currency_symbol": "USD",
            "token_decimals": 6,
            "state": self.state,
            "error": self.error,
        }


@dataclass
class Intent:
    """Typed data the stand-in issued and will accept signed, once, before it expires."""

    group_salt: int
    payload: dict[str, Any]
    expires: int


@dataclass
class Invite:
    nanoid: str
    email: str
    salt: str | None
    status: str = "sent"
    riseid: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "nanoid": self.nanoid,
            "email": self.email,
            "status": self.status,
            "riseid": self.riseid,
        }


@dataclass
class Fault:
    """Answer ``method path`` (a prefix) ``times`` times with ``status`` and/or a delay of
    ``hang`` seconds; ``after`` does the real work first (Rise acted, the answer is lost)."""

    method: str
    path: str
    status: int | None = 500
    code: str = "INTERNAL_ERROR"
    times: int = 1
    hang: float = 0.0
    after: bool = False
    skip: int = 0  # let this many matching requests through first
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SiweChallenge:
    text: str
    address: str
    chain_id: int
    domain: str
    issued_at: float
    expires_at: float
    used: bool = False
