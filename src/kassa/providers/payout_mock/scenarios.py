"""Payee ids that make any payout outcome happen on purpose, like the pay-ins mock's tokens.

The mock payout provider chooses what happens to a payment by the payee's provider id
(``provider_payee_id``): ``payee_<scenario>`` optionally followed by ``_<anything>``, so
every payee can have its own id (``payee_timeout_ada``). Any other id (a RiseID address, an
id of a real provider) is ``success``.

    payee id                  a payment to it
    payee_success             is paid at once (completed)
    payee_partialFailure      fails the first time its key is sent (processing_error,
                              retryable: nothing paid), is paid when the same key is sent
                              again; the rest of its batch is paid: a batch partly failed
    payee_timeout             is paid, but the answer to the whole batch it is in is lost
                              (TransientProviderError, ambiguous) the first time; sent again
                              with the same keys, the mock answers what it did: paid once
    payee_rateLimit           its batch is refused before anything is paid (RateLimitedError,
                              retry after 1 s) the first time; accepted when sent again
    payee_invalidPayee        fails for good (invalid_payee); get_payee_info refuses it,
                              unless a test set its KYC (an account closed after its KYC)
    payee_insufficientFunds   fails, retryable (insufficient_funds: the payer's balance is
                              too low), every time; so does any payment above the balance
    payee_processing<N>       is accepted as processing; get_payment_status answers
                              processing to the first N - 1 lookups and completed to the Nth
                              (a delayed confirmation: kassa's status polling settles it)
    payee_webhook<N>          is accepted as processing and completes N seconds later (0 to
                              999): the mock's simulated webhook ``payment.completed`` is due
                              then, and get_payment_status answers processing until then
    payee_kycPending          KYC pending (get_payee_info), not payable
    payee_kycRejected         KYC rejected, not payable

Inviting ``ana+<scenario>@example.com`` (``ana+timeout@...``, ``ana+processing3@...``) gives
a payee id of that scenario (``payee_timeout_<hash>``); any other address, ``success``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "success",
    "partial_failure",
    "timeout",
    "rate_limit",
    "invalid_payee",
    "insufficient_funds",
    "processing",
    "webhook",
    "kyc_pending",
    "kyc_rejected",
]

_NAMES: dict[str, Kind] = {
    "success": "success",
    "partialFailure": "partial_failure",
    "timeout": "timeout",
    "rateLimit": "rate_limit",
    "invalidPayee": "invalid_payee",
    "insufficientFunds": "insufficient_funds",
    "kycPending": "kyc_pending",
    "kycRejected": "kyc_rejected",
}
_PROCESSING = re.compile(r"^processing([1-9][0-9]{0,2})$")
_WEBHOOK = re.compile(r"^webhook([0-9]{1,3})$")
PREFIX = "payee_"


@dataclass(frozen=True, slots=True)
class PayoutScenario:
    kind: Kind
    polls: int = 0  # processing: the lookup that answers completed
    seconds: int = 0  # webhook: when, after it was accepted, the payout completes


def _named(name: str) -> PayoutScenario | None:
    if name in _NAMES:
        return PayoutScenario(_NAMES[name])
    match = _PROCESSING.match(name)
    if match:
        return PayoutScenario("processing", int(match.group(1)))
    match = _WEBHOOK.match(name)
    if match:
        return PayoutScenario("webhook", seconds=int(match.group(1)))
    return None


def scenario_of(payee_id: str) -> PayoutScenario:
    """The scenario a payee id selects (``success`` for any id not of the mock's form)."""
    if payee_id.startswith(PREFIX):
        found = _named(payee_id[len(PREFIX) :].split("_", 1)[0])
        if found is not None:
            return found
    return PayoutScenario("success")


def invited_payee_id(email: str) -> str:
    """The payee id an invitation of ``email`` gives: its ``+tag``'s scenario, stable."""
    local = email.split("@", 1)[0]
    tag = local.split("+", 1)[1] if "+" in local else ""
    name = tag if _named(tag) is not None else "success"
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:16]
    return f"{PREFIX}{name}_{digest}"


def stable_id(prefix: str, *parts: str) -> str:
    return f"{prefix}_{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()[:24]}"
