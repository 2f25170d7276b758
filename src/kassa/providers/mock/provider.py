"""MockProvider: deterministic answers, selectable per request by test-mode tokens."""

from __future__ import annotations

import asyncio

from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    ChargeResult,
    DeclinedError,
    PaymentLookup,
    PaymentMethodRequest,
    PaymentMethodResult,
    PermanentProviderError,
    ProviderPayment,
    RefundRequest,
    RefundResult,
    TransientProviderError,
)
from kassa.providers.mock.ledger import MockLedger
from kassa.providers.mock.scenarios import Scenario, fraction, parse_token, stable_id

PARTIAL_FAILURE_RATE = 0.2
_LEDGERS: dict[str, MockLedger] = {}


def ledger_for(name: str) -> MockLedger:
    """The process-wide ledger of the mock provider named ``name``."""
    return _LEDGERS.setdefault(name, MockLedger())


class MockProvider:
    """A first-class adapter. ``failure_rate`` declines that share of keys (MOCK_FAILURE_RATE);
    ``delay`` seconds are waited on every call (MOCK_PAYMENT_DELAY); neither by default."""

    test_only = True  # it simulates: live-mode payments are refused (ProviderRegistry.check_mode)

    def __init__(self, name: str = "mock", *, failure_rate: float = 0.0, delay: float = 0.0):
        self.name = name
        self.failure_rate = failure_rate
        self.delay = delay
        self.ledger = ledger_for(name)

    # -- the outcome, as a pure function of the request ---------------------------------------
    def _scenario(self, token: str) -> Scenario:
        scenario = parse_token(token, self.name)
        if scenario.kind == "unknown":
            raise PermanentProviderError(
                "No such payment method token. In test mode use pm_card_visa or another test "
                "token (see docs/payments.md).",
                provider=self.name,
                code="invalid_payment_method",
            )
        return scenario

    def _outcome(self, request: ChargeRequest, scenario: Scenario) -> ChargeResult | DeclinedError:
        pid = stable_id("mockpi", self.name, request.idempotency_key)
        code = scenario.decline_code
        dice = fraction(self.name, request.idempotency_key)
        if (scenario.kind == "partial_failure" and dice < PARTIAL_FAILURE_RATE) or (
            scenario.kind == "success" and dice < self.failure_rate
        ):
            code = "processing_error"
        if scenario.kind == "decline" or code is not None:
            return DeclinedError(
                f"The card was declined ({code}).",
                provider=self.name,
                decline_code=code or "generic_decline",
                provider_payment_id=pid,
                method=scenario.method,
            )
        zero = Money.zero(request.amount.currency)
        return ChargeResult(
            provider=self.name,
            provider_payment_id=pid,
            status="succeeded" if request.capture else "requires_capture",
            amount=request.amount,
            amount_captured=request.amount if request.capture else zero,
            method=scenario.method,
        )

    async def _wait(self, scenario: Scenario | None = None) -> None:
        seconds = self.delay + (scenario.delay_ms / 1000 if scenario else 0)
        if seconds > 0:
            await asyncio.sleep(seconds)

    # -- PayinProvider ----------------------------------------------------------------------
    async def authorize(self, request: ChargeRequest) -> ChargeResult:
        key = request.idempotency_key
        self.ledger.calls[f"authorize:{key}"] += 1
        scenario = self._scenario(request.payment_method)
        await self._wait(scenario)
        if scenario.kind == "rate_limit":
            raise TransientProviderError(
                "Too many requests to the provider.",
                provider=self.name,
                code="rate_limited",
                retry_after=1.0,
            )
        if scenario.kind == "invalid_payee":
            raise PermanentProviderError(
                "The payee account is invalid.", provider=self.name, code="invalid_payee"
            )
        known = self.ledger.charges.get(key)
        if known is None:
            known = self._outcome(request, scenario)
            self.ledger.charges[key] = known
            self.ledger.charge_amounts[key] = request.amount.minor
        elif self.ledger.charge_amounts[key] != request.amount.minor:
            raise PermanentProviderError(
                "Idempotency key reused with a different amount.",
                provider=self.name,
                code="idempotency_mismatch",
            )
        if scenario.kind == "timeout":
            raise TransientProviderError(
                "The provider did not answer in time.",
                provider=self.name,
                code="timeout",
                ambiguous=True,
            )
        if isinstance(known, DeclinedError):
            raise known
        return known

    async def capture(self, request: CaptureRequest) -> ChargeResult:
        await self._wait()
        result = self.ledger.captures.get(request.idempotency_key)
        if result is None:
            result = ChargeResult(
                provider=self.name,
                provider_payment_id=request.provider_payment_id,
                status="succeeded",
                amount=request.amount,
                amount_captured=request.amount,
            )
            self.ledger.captures[request.idempotency_key] = result
        return result

    async def cancel(self, request: CancelRequest) -> ChargeResult:
        await self._wait()
        result = self.ledger.cancels.get(request.idempotency_key)
        if result is None:
            result = ChargeResult(
                provider=self.name,
                provider_payment_id=request.provider_payment_id,
                status="canceled",
                amount=Money(0, "USD"),
                amount_captured=Money(0, "USD"),
            )
            self.ledger.cancels[request.idempotency_key] = result
        return result

    async def refund(self, request: RefundRequest) -> RefundResult:
        await self._wait()
        result = self.ledger.refunds.get(request.idempotency_key)
        if result is None:
            result = RefundResult(
                provider=self.name,
                provider_refund_id=stable_id("mockre", self.name, request.idempotency_key),
                status="succeeded",
                amount=request.amount,
            )
            self.ledger.refunds[request.idempotency_key] = result
        return result

    async def retrieve(self, lookup: PaymentLookup) -> ProviderPayment | None:
        charge = lookup.charge
        scenario = parse_token(charge.payment_method, self.name)
        if scenario.kind in ("unknown", "rate_limit", "invalid_payee"):
            return None  # refused before processing: the provider has no such payment
        outcome = self._outcome(charge, scenario)
        zero = Money.zero(charge.amount.currency)
        if isinstance(outcome, DeclinedError):
            return ProviderPayment(
                provider=self.name,
                provider_payment_id=outcome.provider_payment_id or "",
                status="failed",
                amount=charge.amount,
                amount_captured=zero,
                amount_refunded=zero,
                decline_code=outcome.decline_code,
                method=scenario.method,
            )
        captured = outcome.amount_captured
        if lookup.captures:
            captured = lookup.captures[-1].amount
        refunded = zero
        for refund in lookup.refunds:
            refunded = refunded + refund.amount
        status = outcome.status
        if lookup.cancel is not None and captured.is_zero():
            status = "canceled"
        elif captured.is_positive():
            status = "succeeded"
        return ProviderPayment(
            provider=self.name,
            provider_payment_id=outcome.provider_payment_id,
            status=status,
            amount=charge.amount,
            amount_captured=captured,
            amount_refunded=refunded,
            method=scenario.method,
        )

    async def create_payment_method(self, request: PaymentMethodRequest) -> PaymentMethodResult:
        scenario = self._scenario(request.token)
        assert scenario.method is not None
        return PaymentMethodResult(provider=self.name, token=request.token, details=scenario.method)
