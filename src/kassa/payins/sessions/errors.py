"""Errors of stablecoin payment sessions."""

from __future__ import annotations

from kassa.core.error_catalog import declare
from kassa.core.errors import Conflict, InvalidRequest

CHAIN_NOT_CONFIGURED = declare(
    "chain_not_configured", InvalidRequest, "The chain is not one kassa is configured to watch."
)
TOKEN_NOT_ACCEPTED = declare(
    "token_not_accepted", InvalidRequest, "The token is not configured on the chains asked for."
)
NO_RECEIVING_ADDRESS = declare(
    "no_receiving_address",
    InvalidRequest,
    "The account has no receiving address on any chain the session could be paid on.",
)
SESSION_AMOUNTS_EXHAUSTED = declare(
    "session_amounts_exhausted",
    Conflict,
    "Every unique amount for this price, address and token is taken by open sessions.",
)
SESSION_NOT_EXPIRABLE = declare(
    "session_not_expirable",
    InvalidRequest,
    "Only a pending session can be expired; one with a transfer on chain cannot.",
)
RECEIVING_ADDRESS_TAKEN = declare(
    "receiving_address_taken",
    Conflict,
    "The address is already watched on that chain, in this mode or by another account.",
)
SESSION_NOT_OPEN = declare(
    "session_not_open",
    InvalidRequest,
    "The session is completed or expired: it takes no transaction any more.",
)
TRANSACTION_ALREADY_REPORTED = declare(
    "transaction_already_reported",
    Conflict,
    "Another transaction was reported for this session already.",
)
SESSION_NOT_REFUNDABLE = declare(
    "session_not_refundable",
    InvalidRequest,
    "Only a completed session, or one paid late or partly, has money to send back.",
)
REFUND_EXCEEDS_RECEIVED = declare(
    "refund_exceeds_received",
    InvalidRequest,
    "The refund is more than was received on chain minus what was refunded already.",
)
TRANSFER_ALREADY_ASSIGNED = declare(
    "transfer_already_assigned",
    Conflict,
    "The transfer is bound to another payment session already.",
)
TRANSFER_REORGED = declare(
    "transfer_reorged",
    Conflict,
    "The transfer was re-orged out of the chain: it never happened and pays nothing.",
)
TRANSFER_SESSION_MISMATCH = declare(
    "transfer_session_mismatch",
    InvalidRequest,
    "The session has no quote for the transfer's chain, token and receiving address.",
)
SESSION_ALREADY_PAID = declare(
    "session_already_paid",
    Conflict,
    "The session has a transfer paying it in full already; it takes no other transfer.",
)
