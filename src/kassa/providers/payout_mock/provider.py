"""MockPayoutProvider: the payout provider interface answered from the payee id's scenario.

Every write is idempotent on its key (the ledger pays a key once); see ``scenarios`` for what
each payee id does. Nothing leaves the machine and no money moves.

It simulates webhooks too: a payout paid or failed for good has its ``payment.completed`` /
``payment.failed`` due at once, a ``payee_webhook<N>`` payout its ``payment.completed`` N
seconds after it was accepted. They wait in the ledger until kassa's worker takes them
(``due_webhooks``, then ``webhooks_delivered``): at least once, each with a stable id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kassa.core.money import Money
from kassa.providers.base import (
    BatchPayoutRequest,
    BatchPayoutResult,
    DeclinedError,
    InviteRequest,
    InviteResult,
    KycStatus,
    PayeeInfo,
    PayoutBalance,
    PayoutLookup,
    PayoutRequest,
    PayoutResult,
    PermanentProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.errors import INVALID_PAYEE, TIMEOUT
from kassa.providers.payout_mock.ledger import PayoutLedger, StoredPayout
from kassa.providers.payout_mock.scenarios import (
    PayoutScenario,
    invited_payee_id,
    scenario_of,
    stable_id,
)

# What the payer holds per currency until ``fund`` says otherwise: enough for any test run.
DEFAULT_FUNDS = 10_000_000_000  # minor units (100,000,000.00)
PROCESSING_ERROR = "processing_error"
INSUFFICIENT_FUNDS = "insufficient_funds"


@dataclass(frozen=True, slots=True)
class MockWebhook:
    """A webhook the mock sends: its id (stable: a redelivery has the same), type, body."""

    id: str
    type: str
    payload: dict[str, Any]


class MockPayoutProvider:
    name = "mock"

    def __init__(self, ledger: PayoutLedger | None = None, *, batch_limit: int = 100) -> None:
        self.ledger = ledger or PayoutLedger()
        self.batch_limit = batch_limit
        self.authentications = 0

    # -- for tests and demos ------------------------------------------------------------------
    def set_kyc(self, payee_id: str, status: KycStatus) -> None:
        """The payee's KYC state as the provider will report it from now on."""
        self.ledger.set_kyc(payee_id, status)

    def fund(self, money: Money) -> None:
        """Set what the payer holds in ``money``'s currency (paid payouts are taken off)."""
        self.ledger.set_funds(money.currency, money.minor)

    # -- the interface --------------------------------------------------------------------------
    async def authenticate(self) -> None:
        self.authentications += 1

    async def send_payment(self, request: PayoutRequest) -> PayoutResult:
        answer = await self.send_batch_payment(
            BatchPayoutRequest(idempotency_key=request.idempotency_key, payouts=(request,))
        )
        [result] = answer.results
        if result.status != "failed":
            return result
        message = f"The payout failed ({result.error_code})."
        if result.error_code == INVALID_PAYEE.code:
            raise PermanentProviderError(message, provider=self.name, code=INVALID_PAYEE.code)
        if result.error_code == INSUFFICIENT_FUNDS:
            raise DeclinedError(message, provider=self.name, decline_code=INSUFFICIENT_FUNDS)
        raise TransientProviderError(message, provider=self.name, code=result.error_code)

    async def send_batch_payment(self, request: BatchPayoutRequest) -> BatchPayoutResult:
        keys = [p.idempotency_key for p in request.payouts]
        sent_before = self.ledger.count_sends(keys)
        first = {p.idempotency_key for p in request.payouts if sent_before[p.idempotency_key] == 0}
        kinds = {p.idempotency_key: scenario_of(p.payee_id) for p in request.payouts}
        if any(kinds[k].kind == "rate_limit" for k in first):
            raise RateLimitedError(
                "Too many requests (mock rate_limit).", provider=self.name, retry_after=1.0
            )
        known = self.ledger.payouts(keys)
        currencies = {p.amount.currency for p in request.payouts}
        room = {c: self._available(c) for c in currencies}
        new: list[StoredPayout] = []
        results: list[PayoutResult] = []
        for payout in request.payouts:
            key, scenario = payout.idempotency_key, kinds[payout.idempotency_key]
            stored = known.get(key)
            if stored is not None:
                if (stored.amount, stored.currency, stored.payee_id) != (
                    payout.amount.minor,
                    payout.amount.currency,
                    payout.payee_id,
                ):
                    results.append(self._failed(payout, "idempotency_mismatch", retryable=False))
                else:
                    results.append(self._result(stored))
                continue
            if scenario.kind == "invalid_payee":
                stored = self._stored(payout, "failed", INVALID_PAYEE.code)
            elif scenario.kind == "insufficient_funds" or (
                payout.amount.minor > room[payout.amount.currency]
            ):
                results.append(self._failed(payout, INSUFFICIENT_FUNDS, retryable=True))
                continue
            elif scenario.kind == "partial_failure" and key in first:
                results.append(self._failed(payout, PROCESSING_ERROR, retryable=True))
                continue
            elif scenario.kind == "processing":
                stored = self._stored(payout, "processing", None, scenario.polls)
            elif scenario.kind == "webhook":  # completes by time: polls_needed 0
                stored = self._stored(payout, "processing", None)
            else:
                stored = self._stored(payout, "completed", None)
            room[payout.amount.currency] -= payout.amount.minor if stored.status != "failed" else 0
            new.append(stored)
            results.append(self._result(stored))
        self.ledger.add_payouts(new, self._webhooks(new, kinds))
        if any(kinds[k].kind == "timeout" for k in first):  # done, but the answer is lost
            raise TransientProviderError(
                "The payout provider did not answer in time (mock timeout).",
                provider=self.name,
                code=TIMEOUT,
                ambiguous=True,
            )
        groups = max(1, -(-len(request.payouts) // self.batch_limit))
        return BatchPayoutResult(
            provider=self.name,
            idempotency_key=request.idempotency_key,
            provider_batch_ids=tuple(
                stable_id("mpb", request.idempotency_key, str(i)) for i in range(groups)
            ),
            results=tuple(results),
        )

    async def get_payment_status(self, lookup: PayoutLookup) -> PayoutResult | None:
        stored = self.ledger.poll(lookup.idempotency_key)
        return None if stored is None else self._result(stored)

    async def get_payee_info(self, payee_id: str) -> PayeeInfo:
        scenario = scenario_of(payee_id)
        chosen = self.ledger.kyc(payee_id)
        if scenario.kind == "invalid_payee" and chosen is None:
            raise PermanentProviderError(
                "No such payee (mock invalid_payee).", provider=self.name, code=INVALID_PAYEE.code
            )
        default: KycStatus = {"kyc_pending": "pending", "kyc_rejected": "rejected"}.get(
            scenario.kind, "approved"
        )  # type: ignore[assignment]
        kyc: KycStatus = chosen or default  # type: ignore[assignment]
        return PayeeInfo(
            provider=self.name,
            payee_id=payee_id,
            email=self.ledger.email_of(payee_id),
            kyc_status=kyc,
            can_receive_payments=kyc == "approved",
        )

    async def balance(self, currency: str) -> PayoutBalance:
        return PayoutBalance(self.name, Money(self._available(currency), currency))

    async def invite_payee(self, request: InviteRequest) -> InviteResult:
        """The invitee accepts at once: the answer carries their new payee id."""
        invite_id, payee_id = self.ledger.invite(
            request.email, stable_id("minv", request.email.lower()), invited_payee_id(request.email)
        )
        return InviteResult(
            provider=self.name,
            invite_id=invite_id,
            email=request.email,
            status="accepted",
            payee_id=payee_id,
        )

    # -- simulated webhooks ---------------------------------------------------------------------
    def due_webhooks(self, limit: int = 500) -> list[MockWebhook]:
        """The webhooks due now that were not delivered yet."""
        found = []
        for due in self.ledger.due_webhooks(limit):
            payout = due.payout
            body = {
                "idempotency_key": payout.key,
                "transaction_id": payout.transaction_id,
                "payee_id": payout.payee_id,
                "amount": payout.amount,
                "currency": payout.currency,
                "status": payout.status,
                "error_code": payout.error_code,
            }
            found.append(
                MockWebhook(due.id, due.type, {"id": due.id, "type": due.type, "payout": body})
            )
        return found

    def webhooks_delivered(self, ids: list[str]) -> None:
        self.ledger.delivered(ids)

    @staticmethod
    def _webhooks(
        new: list[StoredPayout], kinds: dict[str, PayoutScenario]
    ) -> list[tuple[str, str, str, float]]:
        now = time.time()
        found = []
        for stored in new:
            scenario = kinds[stored.key]
            if stored.status in ("completed", "failed"):
                due, kind = now, f"payment.{stored.status}"
            elif scenario.kind == "webhook":
                due, kind = now + scenario.seconds, "payment.completed"
            else:
                continue  # processing<N>: status polling settles it
            found.append((stable_id("mwh", stored.key, kind), stored.key, kind, due))
        return found

    # -- helpers --------------------------------------------------------------------------------
    def _available(self, currency: str) -> int:
        return max(0, self.ledger.funds(currency, DEFAULT_FUNDS) - self.ledger.spent(currency))

    @staticmethod
    def _stored(
        payout: PayoutRequest, status: str, error: str | None, polls_needed: int = 0
    ) -> StoredPayout:
        return StoredPayout(
            key=payout.idempotency_key,
            transaction_id=stable_id("mpt", payout.idempotency_key),
            payee_id=payout.payee_id,
            amount=payout.amount.minor,
            currency=payout.amount.currency,
            status=status,
            error_code=error,
            polls=0,
            polls_needed=polls_needed,
        )

    def _result(self, stored: StoredPayout) -> PayoutResult:
        return PayoutResult(
            provider=self.name,
            idempotency_key=stored.key,
            status=stored.status,  # type: ignore[arg-type]
            amount=Money(stored.amount, stored.currency),
            payee_id=stored.payee_id,
            provider_transaction_id=stored.transaction_id,
            error_code=stored.error_code,
            error_message=None if stored.error_code is None else f"mock {stored.error_code}",
            retryable=False,
        )

    def _failed(self, payout: PayoutRequest, code: str, *, retryable: bool) -> PayoutResult:
        return PayoutResult(
            provider=self.name,
            idempotency_key=payout.idempotency_key,
            status="failed",
            amount=payout.amount,
            payee_id=payout.payee_id,
            error_code=code,
            error_message=f"mock {code}",
            retryable=retryable,
        )
