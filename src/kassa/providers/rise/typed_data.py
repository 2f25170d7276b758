"""EIP-712 typed data of Rise payments, USDC amounts and salts.

Rise answers ``POST /v2/payments`` with ``{domain, types, typed_data, primary_type}``; kassa
checks that it describes exactly the payments it asked for (recipients, amounts, salts, the
company's wallet and RiseID, the expected chain) *before* signing it with
``Account.sign_typed_data``, so a wrong or hostile answer is never signed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from kassa.core.money import Money

USDC_DECIMALS = 6
# USD cents -> USDC base units (6 decimals): exact, 1 cent = 10**4 base units.
_CENT_TO_BASE = 10_000

FORWARDER_NAME = "RiseAccountForwarder"
FORWARDER_VERSION = "1.0.0"
PRIMARY_TYPE = "CreatePaymentsForwardRequest"
PAYMENT_TYPES: dict[str, list[dict[str, str]]] = {
    PRIMARY_TYPE: [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "salt", "type": "uint256"},
        {"name": "expires", "type": "uint256"},
        {"name": "data", "type": "RisePayment[]"},
    ],
    "RisePayment": [
        {"name": "recipient", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "salt", "type": "uint256"},
    ],
}


class TypedDataMismatch(ValueError):
    """Rise's typed data does not describe the payments kassa asked for."""


def usdc_units(amount: Money) -> int:
    """USDC base units of a USD amount (exact); ValueError for any other currency."""
    if amount.currency != "USD":
        raise ValueError(f"Rise pays out USD (in USDC), not {amount.currency}")
    return amount.minor * _CENT_TO_BASE


def money_from_usdc(units: int) -> Money:
    """USD of a USDC balance, rounded down to the cent (dust below a cent cannot be paid)."""
    return Money(units // _CENT_TO_BASE, "USD")


def salt_for(scope: str, idempotency_key: str) -> int:
    """A uint256 salt derived from kassa's idempotency key: the same key, the same salt, in
    every process, so a retry names the same Rise transaction."""
    digest: bytes = keccak(text=f"kassa:{scope}:{idempotency_key}")
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class ExpectedPayment:
    recipient: str
    units: int
    salt: int


def _signable(payload: Mapping[str, Any]) -> Any:
    types = {k: v for k, v in payload["types"].items() if k != "EIP712Domain"}
    return encode_typed_data(
        domain_data=dict(payload["domain"]),
        message_types=types,
        message_data=dict(payload["typed_data"]),
    )


def sign(payload: Mapping[str, Any], private_key: str) -> str:
    """Sign Rise's ``{domain, types, typed_data}`` as EIP-712 typed data."""
    signed = Account.sign_message(_signable(payload), private_key=private_key)
    return "0x" + bytes(signed.signature).hex()


def recover(payload: Mapping[str, Any], signature: str) -> str:
    return str(Account.recover_message(_signable(payload), signature=signature))


def _same_address(a: object, b: str) -> bool:
    return isinstance(a, str) and a.lower() == b.lower()


def check(
    payload: Mapping[str, Any],
    *,
    now: float,
    chain_id: int,
    wallet: str,
    company: str,
    group_salt: int,
    payments: Sequence[ExpectedPayment],
) -> None:
    """Refuse (``TypedDataMismatch``) typed data that is not exactly what kassa asked for."""
    try:
        domain = payload["domain"]
        message = payload["typed_data"]
        if payload.get("primary_type") != PRIMARY_TYPE:
            raise TypedDataMismatch(f"primary type {payload.get('primary_type')!r}")
        if domain.get("name") != FORWARDER_NAME or int(domain.get("chainId")) != chain_id:
            raise TypedDataMismatch("the domain is not Rise's forwarder on the expected chain")
        types = {k: v for k, v in payload["types"].items() if k != "EIP712Domain"}
        if types != PAYMENT_TYPES:
            raise TypedDataMismatch("unexpected EIP-712 types")
        if not _same_address(message["from"], wallet) or not _same_address(message["to"], company):
            raise TypedDataMismatch("the payer is not the company's wallet and RiseID")
        if int(message["salt"]) != group_salt:
            raise TypedDataMismatch("the group salt is not the one kassa sent")
        if int(message["expires"]) <= now:
            raise TypedDataMismatch("it has already expired")
        data = message["data"]
        if len(data) != len(payments):
            raise TypedDataMismatch(f"{len(data)} payments instead of {len(payments)}")
        for got, want in zip(data, payments, strict=True):
            if (
                not _same_address(got["recipient"], want.recipient)
                or int(got["amount"]) != want.units
                or int(got["salt"]) != want.salt
            ):
                raise TypedDataMismatch("a payment's recipient, amount or salt differs")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, TypedDataMismatch):
            raise
        raise TypedDataMismatch("malformed typed data") from exc
