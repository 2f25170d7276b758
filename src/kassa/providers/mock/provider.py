"""MockProvider: deterministic answers, selectable per request by test-mode tokens."""

from __future__ import annotations

import asyncio

from kassa.core.money import Money
from kassa.providers.base import (
    CancelRequest,
    CaptureRequest,
    ChargeRequest,
    ChargeResult,
    ConfirmRequest,
    DeclinedError,
    NextAction,
    PaymentLookup,
    PaymentMethodRequest,
    PaymentMethodResult,
    PermanentProviderError,
    ProviderError,
    ProviderPayment,
    RateLimitedError,
    RefundRequest,
    RefundResult,
    TransientProviderError,
)
from kassa.providers.errors import (
    IDEMPOTENCY_MISMATCH,
    INVALID_PAYEE,
    INVALID_PAYMENT_METHOD,
    PROVIDER_DOWN,
    PROVIDER_REJECTED,
    TIMEOUT,
)
from kassa.providers.mock.ledger import (
    Challenge,
    MockLedger,
    StoredCharge,
    StoredOperation,
    StoredPayment,
)
from kassa.providers.mock.scenarios import Scenario, fraction, parse_token, stable_id

PARTIAL_FAILURE_RATE = 0.2


def _result(provider: str, charge: StoredCharge) -> ChargeResult:
    zero = Money.zero(charge.amount.currency)
    return ChargeResult(
        provider=provider,
        provider_payment_id=charge.provider_payment_id,
        status="succeeded" if charge.capture else "requires_capture",
        amount=charge.amount,
        amount_captured=charge.amount if charge.capture else zero,
        method=charge.method,
    )


def _declined(provider: str, charge: StoredCharge, code: str | None = None) -> DeclinedError:
    code = code or charge.decline_code or "generic_decline"
    return DeclinedError(
        f"The card was declined ({code}).",
        provider=provider,
        decline_code=code,
        provider_payment_id=charge.provider_payment_id,
        method=charge.method,
    )


def _waiting(provider: str, charge: StoredCharge, challenge: Challenge) -> ChargeResult:
    """A charge that waits for the customer's 3-D Secure: nothing authorized yet."""
    return ChargeResult(
        provider=provider,
        provider_payment_id=charge.provider_payment_id,
        status="requires_action",
        amount=charge.amount,
        amount_captured=Money.zero(charge.amount.currency),
        method=charge.method,
        next_action=NextAction("use_sdk", client_secret=challenge.client_secret),
    )


def _answer(provider: str, found: StoredPayment) -> ChargeResult:
    """A charge as it stands: waiting for the customer, declined (raised), or made."""
    charge, challenge = found.charge, found.challenge
    if charge.decline_code is not None:
        raise _declined(provider, charge)
    if challenge is not None:
        if not challenge.acted:
            return _waiting(provider, charge, challenge)
        if challenge.fails_with is not None:
            raise _declined(provider, charge, challenge.fails_with)
    return _result(provider, charge)


def _sum(amounts: list[Money], zero: Money) -> Money:
    total = zero
    for amount in amounts:
        total = total + amount
    return total


def _as_provider_payment(provider: str, found: StoredPayment) -> ProviderPayment:
    """What the mock did with a payment: its charge, then its captures, cancellation, refunds."""
    charge, challenge = found.charge, found.challenge
    zero = Money.zero(charge.amount.currency)
    failed_with = charge.decline_code
    if challenge is not None and challenge.acted:
        failed_with = failed_with or challenge.fails_with
    if failed_with is not None:
        return ProviderPayment(
            provider=provider,
            provider_payment_id=charge.provider_payment_id,
            status="failed",
            amount=charge.amount,
            amount_captured=zero,
            amount_refunded=zero,
            decline_code=failed_with,
            method=charge.method,
        )
    canceled = any(op.kind == "cancel" for op in found.operations)
    if challenge is not None and not challenge.acted and not canceled:
        waiting = _waiting(provider, charge, challenge)
        return ProviderPayment(
            provider=provider,
            provider_payment_id=charge.provider_payment_id,
            status="requires_action",
            amount=charge.amount,
            amount_captured=zero,
            amount_refunded=zero,
            method=charge.method,
            next_action=waiting.next_action,
        )
    captures = [op.amount for op in found.operations if op.kind == "capture"]
    authorized_only = zero if not charge.capture else charge.amount
    captured = _sum(captures, zero) if captures else authorized_only
    refunded = _sum([op.amount for op in found.operations if op.kind == "refund"], zero)
    return ProviderPayment(
        provider=provider,
        provider_payment_id=charge.provider_payment_id,
        status=(
            "succeeded"
            if captured.is_positive()
            else "canceled"
            if canceled
            else "requires_capture"
        ),
        amount=charge.amount,
        amount_captured=captured,
        amount_refunded=refunded,
        method=charge.method,
    )


class MockProvider:
    """A first-class adapter. ``failure_rate`` declines that share of keys (MOCK_FAILURE_RATE);
    ``delay`` seconds are waited on every call (MOCK_PAYMENT_DELAY); neither by default.
    ``ledger`` is where it records what it did (default: this process's memory)."""

    test_only = True  # it simulates: live-mode payments are refused (ProviderRegistry.check_mode)

    def __init__(
        self,
        name: str = "mock",
        *,
        failure_rate: float = 0.0,
        delay: float = 0.0,
        ledger: MockLedger | None = None,
    ) -> None:
        self.name = name
        self.failure_rate = failure_rate
        self.delay = delay
        # Without a ledger given, an in-memory one of its own: two mocks share records only
        # when handed the same ledger (the registry gives each the install's file).
        self.ledger = ledger if ledger is not None else MockLedger(name)

    # -- the outcome of a new charge, as a pure function of the request -----------------------
    def _scenario(self, token: str) -> Scenario:
        scenario = parse_token(token, self.name)
        if scenario.kind == "unknown":
            raise PermanentProviderError(
                "No such payment method token. In test mode use pm_card_visa or another test "
                "token (see docs/payments.md).",
                provider=self.name,
                code=INVALID_PAYMENT_METHOD.code,
            )
        return scenario

    def _outcome(self, request: ChargeRequest, scenario: Scenario) -> StoredCharge:
        # A challenge's failure is the customer's doing, decided when they act.
        code = None if scenario.kind == "action" else scenario.decline_code
        dice = fraction(self.name, request.idempotency_key)
        if (scenario.kind == "partial_failure" and dice < PARTIAL_FAILURE_RATE) or (
            scenario.kind == "success" and dice < self.failure_rate
        ):
            code = "processing_error"
        if scenario.kind == "decline" and code is None:
            code = "generic_decline"
        return StoredCharge(
            key=request.idempotency_key,
            provider_payment_id=stable_id("mockpi", self.name, request.idempotency_key),
            amount=request.amount,
            capture=request.capture,
            decline_code=code,
            method=scenario.method,
        )

    def _refusal(self, scenario: Scenario) -> ProviderError | None:
        """The error of a scenario refused before any processing (nothing is recorded)."""
        if scenario.kind == "rate_limit":
            return RateLimitedError(
                "Too many requests to the provider.",
                provider=self.name,
                retry_after=1.0,
            )
        if scenario.kind == "provider_down":
            return TransientProviderError(
                "The provider is unavailable (HTTP 503).", provider=self.name, code=PROVIDER_DOWN
            )
        if scenario.kind == "invalid_payee":
            return PermanentProviderError(
                "The payee account is invalid.", provider=self.name, code=INVALID_PAYEE.code
            )
        return None

    async def _wait(self, scenario: Scenario | None = None) -> None:
        seconds = self.delay + (scenario.delay_ms / 1000 if scenario else 0)
        if seconds > 0:
            await asyncio.sleep(seconds)

    # -- PayinProvider ----------------------------------------------------------------------
    async def authorize(self, request: ChargeRequest) -> ChargeResult:
        key = request.idempotency_key
        self.ledger.count_call("authorize", key)
        scenario = self._scenario(request.payment_method)
        refusal = self._refusal(scenario)
        if refusal is not None:
            await self._wait(scenario)
            raise refusal
        known = self.ledger.charge(key)
        if known is None:
            known = self.ledger.add_charge(self._outcome(request, scenario))
            if scenario.kind == "action":
                pid = known.provider_payment_id
                secret = f"{pid}_secret_{stable_id('s', self.name, key)[2:18]}"
                self.ledger.add_challenge(pid, secret, scenario.decline_code)
        elif known.amount != request.amount:
            raise PermanentProviderError(
                "Idempotency key reused with a different amount.",
                provider=self.name,
                code=IDEMPOTENCY_MISMATCH.code,
            )
        # The charge is on record before its answer leaves (after a delay, or never): like a
        # real provider's, it stays made when the kassa process waiting for it dies.
        await self._wait(scenario)
        if scenario.kind == "timeout":
            raise TransientProviderError(
                "The provider did not answer in time.",
                provider=self.name,
                code=TIMEOUT,
                ambiguous=True,
            )
        return _answer(
            self.name, StoredPayment(known, (), self.ledger.challenge(known.provider_payment_id))
        )

    async def confirm(self, request: ConfirmRequest) -> ChargeResult:
        """The charge as it stands now: still waiting until the customer acts, then made (or
        declined ``authentication_required`` when the challenge failed)."""
        self.ledger.count_call("confirm", request.idempotency_key)
        found = self.ledger.payment(key="", provider_payment_id=request.provider_payment_id)
        if found is None:
            raise PermanentProviderError(
                "No such payment at the provider.",
                provider=self.name,
                code=INVALID_PAYMENT_METHOD.code,
            )
        await self._wait()
        if any(op.kind == "cancel" for op in found.operations):
            raise PermanentProviderError(
                "The payment was canceled.", provider=self.name, code=PROVIDER_REJECTED.code
            )
        return _answer(self.name, found)

    def complete_action(self, provider_payment_id: str) -> None:
        """Play the customer: complete the 3-D Secure challenge of this payment (it passes,
        or fails for ``pm_card_threeDSecureFail``). Recorded in the ledger, which every
        process of the install shares; kassa learns of it when it confirms the payment."""
        if self.ledger.challenge(provider_payment_id) is None:
            raise PermanentProviderError(
                "This payment does not wait for the customer.",
                provider=self.name,
                code=PROVIDER_REJECTED.code,
            )
        self.ledger.record_action(provider_payment_id)

    def _currency_of(self, provider_payment_id: str, default: str) -> str:
        found = self.ledger.payment(key="", provider_payment_id=provider_payment_id)
        return found.charge.amount.currency if found else default

    async def capture(self, request: CaptureRequest) -> ChargeResult:
        self.ledger.count_call("capture", request.idempotency_key)
        done = self.ledger.add_operation(
            StoredOperation(
                "capture",
                request.idempotency_key,
                request.provider_payment_id,
                request.amount,
                request.provider_payment_id,
            )
        )
        await self._wait()
        return ChargeResult(
            provider=self.name,
            provider_payment_id=done.provider_payment_id,
            status="succeeded",
            amount=done.amount,
            amount_captured=done.amount,
        )

    async def cancel(self, request: CancelRequest) -> ChargeResult:
        self.ledger.count_call("cancel", request.idempotency_key)
        zero = Money.zero(self._currency_of(request.provider_payment_id, "USD"))
        done = self.ledger.add_operation(
            StoredOperation(
                "cancel",
                request.idempotency_key,
                request.provider_payment_id,
                zero,
                request.provider_payment_id,
            )
        )
        await self._wait()
        return ChargeResult(
            provider=self.name,
            provider_payment_id=done.provider_payment_id,
            status="canceled",
            amount=done.amount,
            amount_captured=done.amount,
        )

    def _refuse_over_refund(self, request: RefundRequest) -> None:
        """Like a real provider: never refund more than is left of what was captured (a
        repeated key is answered with the refund on record, so it is not counted twice)."""
        found = self.ledger.payment(key="", provider_payment_id=request.provider_payment_id)
        if found is None or any(
            op.kind == "refund" and op.key == request.idempotency_key for op in found.operations
        ):
            return
        record = _as_provider_payment(self.name, found)
        if request.amount > record.amount_captured - record.amount_refunded:
            raise PermanentProviderError(
                "The refund is more than is left of the captured amount.",
                provider=self.name,
                code=PROVIDER_REJECTED.code,
            )

    async def refund(self, request: RefundRequest) -> RefundResult:
        self.ledger.count_call("refund", request.idempotency_key)
        self._refuse_over_refund(request)
        done = self.ledger.add_operation(
            StoredOperation(
                "refund",
                request.idempotency_key,
                request.provider_payment_id,
                request.amount,
                stable_id("mockre", self.name, request.idempotency_key),
            )
        )
        await self._wait()
        return RefundResult(
            provider=self.name,
            provider_refund_id=done.result_id,
            status="succeeded",
            amount=done.amount,
        )

    async def retrieve(self, lookup: PaymentLookup) -> ProviderPayment | None:
        """From the ledger: what this mock actually received and did, never what kassa
        believes (a payment never sent is None, however kassa recorded it)."""
        found = self.ledger.payment(
            key=lookup.idempotency_key, provider_payment_id=lookup.provider_payment_id
        )
        return None if found is None else _as_provider_payment(self.name, found)

    async def create_payment_method(self, request: PaymentMethodRequest) -> PaymentMethodResult:
        scenario = self._scenario(request.token)
        assert scenario.method is not None
        return PaymentMethodResult(provider=self.name, token=request.token, details=scenario.method)
