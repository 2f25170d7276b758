"""The payment-session event types (seed 002's payment.* events; kassa's payment.* are card
payments', so these carry the session's own prefix, as Stripe's checkout.session.* do)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kassa.jobs.catalog import declare_event
from kassa.payins.sessions.models import PaymentSession, SessionQuote
from kassa.payins.sessions.schemas import PaymentSessionOut

_CREATED = datetime(2026, 1, 27, 10, 0, 0, tzinfo=UTC)
_CONFIRMED = datetime(2026, 1, 27, 10, 2, 15, tzinfo=UTC)
_TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"


def _example(status: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "ps_01JD2X8Q0Y3V7K2M4N6P8R0T2W",
        "account_id": "acct_01JD2X7M4N5P6Q7R8S9T0V1W2X",
        "livemode": False,
        "status": status,
        "outcome": None,
        "amount": 10000,
        "currency": "USD",
        "description": "Order #1234",
        "metadata_": {"order_id": "1234"},
        "success_url": "https://shop.example/thanks",
        "cancel_url": "https://shop.example/cart",
        "reported_tx_hash": None,
        "tx_hash": None,
        "expires_at": datetime(2026, 2, 3, 10, 0, 0, tzinfo=UTC),
        "confirmed_at": None,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    }
    values.update(changes)
    quote = SessionQuote(
        id="psq_01JD2X8Q0Y3V7K2M4N6P8R0T2X",
        session_id=values["id"],
        chain="polygon",
        chain_id=137,
        token_symbol="USDC",
        token_address="0x3c499c542cef5e3811e1192ce70d8cc03d5c3359",
        decimals=6,
        to_address="0x8ba1f109551bd432803012645ac136ddd64dba72",
        units="100000003",
        open_key=None,
    )
    data = PaymentSessionOut.of(PaymentSession(**values), [quote]).json_value()
    data["checkout_url"] = f"https://pay.shop.example/checkout/{values['id']}"
    return data


_PAID = {"outcome": "paid", "tx_hash": _TX}
EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "payment_session.created": (
        "A session was created (seed 002: payment.created).",
        _example("pending"),
    ),
    "payment_session.confirming": (
        "A transfer paying it was seen on chain; confirmations are counted "
        "(seed 002: payment.confirming).",
        _example("confirming", **_PAID),
    ),
    "payment_session.completed": (
        "Paid in full with enough confirmations (seed 002: payment.completed).",
        _example("completed", confirmed_at=_CONFIRMED, **_PAID),
    ),
    "payment_session.expired": (
        "Not paid in time; its amounts are freed (seed 002: payment.failed, expired).",
        _example("expired"),
    ),
    "payment_session.paid_late": (
        "A transfer arrived after the session expired: recorded, not completed; refund it or "
        "settle with the customer.",
        _example("expired", outcome="paid_late", tx_hash=_TX),
    ),
    "payment_session.reversed": (
        "A completed session's transfer was re-orged out of the chain: the money is not "
        "there any more (an alert goes to the account's admins).",
        _example("pending"),
    ),
}

_REFUND = {
    "id": "psr_01JD2Y1C5E7G9J1L3N5Q7S9U1W",
    "object": "payment_session_refund",
    "payment_session_id": "ps_01JD2X8Q0Y3V7K2M4N6P8R0T2W",
    "status": "confirmed",
    "amount": {"value": "100.00", "currency": "USD"},
    "chain": "polygon",
    "chain_id": 137,
    "token": "USDC",
    "token_address": "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359",
    "units": "100000003",
    "units_text": "100.000003",
    "to_address": "0x2546bcd3c84621e976d8185a91a922ae77ecec30",
    "reason": None,
    "failure_reason": None,
    "waiting_reason": None,
    "from_address": "0xbcd4042de499d14e55001ccbb24a551f3b954096",
    "nonce": 41,
    "tx_hash": "0x9a1e3b3c0f2d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0",
    "tx_hashes": ["0x9a1e3b3c0f2d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0"],
    "block_number": 65012345,
    "confirmations": 64,
    "max_fee_per_gas": "61000000000",
    "max_priority_fee_per_gas": "30000000000",
    "fee_paid": "1791000000000000",
    "attempts": 1,
    "livemode": False,
    "created_at": "2026-01-28T09:00:00Z",
    "updated_at": "2026-01-28T09:02:20Z",
    "submitted_at": "2026-01-28T09:00:02Z",
    "confirmed_at": "2026-01-28T09:02:20Z",
}
EXAMPLES["payment_session.refunded"] = (
    "A refund sent from the hot wallet has its confirmations; the session is refunded or "
    "partially_refunded, and `refund` is the refund (seed 002: payment.refunded).",
    {
        **_example("refunded", confirmed_at=_CONFIRMED, **_PAID),
        "refund": _REFUND,
    },
)

for _name, (_description, _data) in EXAMPLES.items():
    declare_event(_name, _description, _data)

_TRANSFER = {
    "id": "ctr_01JD2X9B3C5D7E9F1G3H5J7K9M",
    "object": "chain_transfer",
    "chain": "polygon",
    "token": "USDC",
    "token_address": "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359",
    "tx_hash": _TX,
    "log_index": 0,
    "block_number": 65012001,
    "block_time": "2026-01-27T10:01:05Z",
    "from_address": "0x2546bcd3c84621e976d8185a91a922ae77ecec30",
    "to_address": "0x8ba1f109551bd432803012645ac136ddd64dba72",
    "value": "99500000",
    "value_text": "99.500000",
    "status": "seen",
    "confirmations": 1,
    "session_id": None,
    "seen_at": "2026-01-27T10:01:07Z",
    "confirmed_at": None,
}
declare_event(
    "chain_transfer.unmatched",
    "A transfer to one of the account's receiving addresses matched no session (no reported "
    "transaction, no session's exact amount): assign it by hand with "
    "POST /v1/chain_transfers/{id}/assign. Sent once, when the monitor first records it.",
    _TRANSFER,
)
