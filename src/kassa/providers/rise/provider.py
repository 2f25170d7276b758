"""RisePayoutProvider: the ``PayoutProvider`` port over Rise's API, with httpx.

Two versions behind ``RISE_API_VERSION`` (``dialect.py``): v2, Rise's current B2B API and the
default, described below; v1, seed 000's flow (``/v1/auth/api/siwe``, ``PUT``/``POST
/v1/payments/batch-pay``), with the same typed data, salts and checks.

What Rise documents (docs.riseworks.io, Rise's B2B API guides "Authentication", "Payments",
"Migrating from V1", "Webhook security", the ``@riseworks/sdk`` README) and kassa relies on:

- sign-in: ``GET /v2/auth/siwe?wallet=&riseid=`` -> ``{data: {siwe}}``, then
  ``POST /v2/auth/verify {message, sig, nonce}`` -> ``{data: {jwt}}``; the JWT as Bearer token
  (seed 000: it lasts 24 h);
- payments: ``POST /v2/payments {from, to: [{to, amount_cents, currency_symbol,
  invoice_description}], pay_now, network}`` -> EIP-712 ``{domain: {name:
  "RiseAccountForwarder", version: "1.0.0", chainId, verifyingContract}, types, typed_data:
  {from, to, salt, expires, data}, primary_type: "CreatePaymentsForwardRequest"}``, then
  ``PUT /v2/payments`` with the signature executes it; payment states ``intent``,
  ``scheduled``, ``complete``, ``removed``; error codes INSUFFICIENT_BALANCE,
  INVALID_SIGNATURE, EXPIRED_TYPED_DATA, INVALID_RECIPIENT; amounts in cents there and in USDC
  base units (6 decimals) on chain and in webhooks;
- Arbitrum (chain 42161; the sandbox on Arbitrum Sepolia 421614, assumed).

Sources read (2026): docs.riseworks.io/docs/webhooks, docs.riseworks.io/reference/
post_payments-pay (v1), Rise's B2B API docs (published at rise-067e2e54.mintlify.app:
/authentication, /concepts/payments, /guides/payment-integration, /guides/migrating-from-v1,
/api-reference/b2b-authentication/..., /webhooks/getting-started/security), the npm
``@riseworks/sdk`` README, and lidofinance/riseworks-batcher (a v1 client) for the v1 bodies.

What Rise does not document publicly and kassa assumes (the stand-in in tests/fakes/rise
speaks exactly this; check it against a Rise sandbox before going live):

- the members of ``types`` (``CreatePaymentsForwardRequest{from, to, salt, expires,
  data: RisePayment[]}``, ``RisePayment{recipient, amount, salt}``), with ``from`` the company
  wallet, ``to`` the company RiseID and ``amount`` in USDC base units;
- that Rise takes the salts kassa sends (``salt`` of the group, ``salt`` per payment) into the
  typed data, and that a salt already executed returns its transaction instead of paying again
  (a salt reused for another payment: SALT_REUSED). The salts are uint256 derived from kassa's
  idempotency keys (``typed_data.salt_for``), so any retry, in any process, names the same
  payment;
- ``PUT /v2/payments {signer, typed_data, signature}`` -> ``{data: {group_id, payments:
  [{nanoid, salt, recipient, amount, amount_cents, state, error}]}}``, one entry per payment;
  a payment Rise cannot make to its payee (KYC not approved) comes back ``removed`` with
  PAYEE_NOT_PAYABLE while the others go on;
- ``GET /v2/payments/{nanoid}`` and ``GET /v2/payments?salt=`` for status,
  ``GET /v2/riseid/{riseid}`` (payee, ``kyc_status``), ``GET /v2/riseid/{riseid}/balance``
  (USDC base units) and ``POST /v2/riseid/invite`` (seed 000's ``/riseid`` routes under v2).

Choices:

- USD only: Money minor units (cents) are sent as ``amount_cents`` and checked as
  ``cents * 10**4`` USDC base units in the typed data; balances round down to the cent.
- Before signing, the typed data is checked to be exactly the payments asked for
  (``typed_data.check``): a wrong answer is refused, never signed.
- Batches above ``batch_limit`` (PAYMENT_BATCH_SIZE, Rise's limit 100) are split into groups
  of at most ``batch_limit``, sent one after the other. When the first group fails as a whole
  the error is raised (nothing else was tried); a later group that fails does not hide the
  groups before it: its payments come back ``failed``/``unknown`` with the reason.
- No retries here except one sign-in again after a 401: retrying transient errors is the
  caller's (``resilience.Guard``), safe because the same key gives the same salt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import httpx

from kassa.core.clock import Clock
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
    PayoutStatus,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from kassa.providers.errors import (
    INVALID_PAYEE,
    PROVIDER_AUTHENTICATION_FAILED,
    PROVIDER_CURRENCY_UNSUPPORTED,
    PROVIDER_REJECTED,
)
from kassa.providers.rise import typed_data
from kassa.providers.rise.auth import SiweSession
from kassa.providers.rise.config import RiseConfig
from kassa.providers.rise.dialect import DIALECTS, Line, Request
from kassa.providers.rise.http import PROVIDER, Unauthorized, call, error_for

log = logging.getLogger("kassa.providers.rise")

STATES: dict[str, PayoutStatus] = {
    "intent": "pending",
    "scheduled": "processing",
    "complete": "completed",
    "removed": "failed",
}
KYC: dict[str, KycStatus] = {
    "approved": "approved",
    "pending": "pending",
    "rejected": "rejected",
    "not_started": "not_started",
}
SOFT_FAILURES = frozenset({"INSUFFICIENT_BALANCE"})


class RisePayoutProvider:
    name = PROVIDER

    def __init__(
        self,
        config: RiseConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.batch_limit = config.batch_limit
        self._http = httpx.AsyncClient(
            base_url=config.root_url, timeout=config.timeout_seconds, transport=transport
        )
        self.session = SiweSession(config, self._http, clock)
        self.dialect = DIALECTS[config.api_version]

    def __repr__(self) -> str:  # the config holds the key: never print it
        return (
            f"RisePayoutProvider(company={self.config.company_id}, env={self.config.environment})"
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -----------------------------------------------------------------------------
    async def _call(self, request: Request, *, write: bool = False) -> Any:
        """An authenticated call; after a 401 signs in again and tries once more."""
        for attempt in (1, 2):
            token = await self.session.token()
            try:
                return await call(
                    self._http,
                    request.method,
                    request.path,
                    token=token,
                    json=request.json,
                    params=request.params,
                    write=write,
                )
            except Unauthorized:
                await self.session.invalidate(token)
                if attempt == 2:
                    raise PermanentProviderError(
                        "Rise refused a fresh token.",
                        provider=PROVIDER,
                        code=PROVIDER_AUTHENTICATION_FAILED.code,
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _salt(self, key: str) -> int:
        return typed_data.salt_for(self.config.company_id, key)

    def _units(self, amount: Money) -> int:
        if amount.minor <= 0:
            raise PermanentProviderError(
                f"A payout must be positive, not {amount}.",
                provider=PROVIDER,
                code=PROVIDER_REJECTED.code,
            )
        try:
            return typed_data.usdc_units(amount)
        except ValueError:
            raise PermanentProviderError(
                f"Rise pays out in USD only, not {amount.currency}.",
                provider=PROVIDER,
                code=PROVIDER_CURRENCY_UNSUPPORTED.code,
            ) from None

    def _result(self, request: PayoutRequest, entry: dict[str, Any]) -> PayoutResult:
        state = STATES.get(str(entry.get("state")), "unknown")
        error = entry.get("error") if isinstance(entry.get("error"), dict) else None
        code = str(error.get("code")) if error else None
        return PayoutResult(
            provider=PROVIDER,
            idempotency_key=request.idempotency_key,
            status=state,
            amount=request.amount,
            payee_id=request.payee_id,
            provider_transaction_id=str(entry["nanoid"]) if entry.get("nanoid") else None,
            error_code=code.lower() if code else None,
            error_message=str(error.get("message") or "")[:200] if error else None,
            retryable=code in SOFT_FAILURES,
        )

    # -- the port -----------------------------------------------------------------------------
    async def authenticate(self) -> None:
        await self.session.sign_in()

    async def send_payment(self, request: PayoutRequest) -> PayoutResult:
        batch = BatchPayoutRequest(idempotency_key=request.idempotency_key, payouts=(request,))
        (result,) = (await self._send_group(batch.idempotency_key, batch.payouts))[1]
        if result.status == "failed" and result.error_code is not None:
            raise error_for(
                400,
                {"code": result.error_code.upper(), "message": result.error_message},
                retry_after=None,
                write=True,
            )
        return result

    async def send_batch_payment(self, request: BatchPayoutRequest) -> BatchPayoutResult:
        if not request.payouts:
            raise PermanentProviderError(
                "A batch needs at least one payment.",
                provider=PROVIDER,
                code=PROVIDER_REJECTED.code,
            )
        for payout in request.payouts:  # refuse the whole batch before anything is sent
            self._units(payout.amount)
        limit = self.batch_limit
        groups = [request.payouts[i : i + limit] for i in range(0, len(request.payouts), limit)]
        batch_ids: list[str] = []
        results: list[PayoutResult] = []
        for index, group in enumerate(groups):
            key = (
                request.idempotency_key
                if len(groups) == 1
                else f"{request.idempotency_key}/{index}"
            )
            try:
                group_id, group_results = await self._send_group(key, group)
            except ProviderError as exc:
                if not results:  # the first group: the whole batch failed as one
                    raise
                results += [self._failed(p, exc) for p in group]
                continue
            batch_ids.append(group_id)
            results += group_results
        log.info(
            "Rise batch sent",
            extra={
                "batch": request.idempotency_key,
                "payments": len(results),
                "groups": len(groups),
                "failed": sum(r.status in ("failed", "unknown") for r in results),
            },
        )
        return BatchPayoutResult(
            provider=PROVIDER,
            idempotency_key=request.idempotency_key,
            provider_batch_ids=tuple(batch_ids),
            results=tuple(results),
        )

    def _failed(self, payout: PayoutRequest, exc: ProviderError) -> PayoutResult:
        ambiguous = isinstance(exc, TransientProviderError) and exc.ambiguous
        soft = isinstance(exc, DeclinedError) and exc.soft
        return PayoutResult(
            provider=PROVIDER,
            idempotency_key=payout.idempotency_key,
            status="unknown" if ambiguous else "failed",
            amount=payout.amount,
            payee_id=payout.payee_id,
            error_code=exc.decline_code if isinstance(exc, DeclinedError) else exc.code,
            error_message=exc.message,
            retryable=isinstance(exc, TransientProviderError) or soft,
        )

    async def _send_group(
        self, key: str, payouts: Sequence[PayoutRequest]
    ) -> tuple[str, list[PayoutResult]]:
        cfg = self.config
        expected = [
            typed_data.ExpectedPayment(
                p.payee_id, self._units(p.amount), self._salt(p.idempotency_key)
            )
            for p in payouts
        ]
        group_salt = self._salt(f"group:{key}")
        lines = [
            Line(p.payee_id, p.amount.minor, e.units, e.salt, p.description or p.idempotency_key)
            for p, e in zip(payouts, expected, strict=True)
        ]
        create = self.dialect.create(
            cfg.wallet_address, cfg.company_id, cfg.network, group_salt, lines
        )
        answer = await self._call(create, write=True)
        intent = self.dialect.intent(answer)
        try:
            typed_data.check(
                intent,
                now=self.session.now().timestamp(),
                chain_id=cfg.chain_id,
                wallet=cfg.wallet_address,
                company=cfg.company_id,
                group_salt=group_salt,
                payments=expected,
            )
        except typed_data.TypedDataMismatch as exc:
            raise PermanentProviderError(
                f"Rise's typed data was not signed: {exc}.",
                provider=PROVIDER,
                code=PROVIDER_REJECTED.code,
            ) from None
        signature = typed_data.sign(intent, cfg.private_key.get_secret_value())
        execute = self.dialect.execute(create, answer, intent, cfg.wallet_address, signature)
        done = await self._call(execute, write=True)
        entries = {str(e.get("salt")): e for e in (done or {}).get("payments", [])}
        results = []
        for payout, want in zip(payouts, expected, strict=True):
            entry = entries.get(str(want.salt))
            if entry is None:
                results.append(
                    PayoutResult(
                        provider=PROVIDER,
                        idempotency_key=payout.idempotency_key,
                        status="unknown",
                        amount=payout.amount,
                        payee_id=payout.payee_id,
                        error_code="missing_from_answer",
                        error_message="Rise's answer did not list this payment.",
                        retryable=True,
                    )
                )
            else:
                results.append(self._result(payout, entry))
        return str(done.get("group_id", "")), results

    async def get_payment_status(self, lookup: PayoutLookup) -> PayoutResult | None:
        request = PayoutRequest(lookup.idempotency_key, lookup.payee_id, lookup.amount)
        if lookup.provider_transaction_id:
            entry = await self._call(self.dialect.payment(lookup.provider_transaction_id))
        else:
            found = await self._call(
                self.dialect.payments_with_salt(self._salt(lookup.idempotency_key))
            )
            items = (found or {}).get("items", [])
            entry = items[0] if items else None
        if entry is None:
            return None
        return self._result(request, entry)

    async def get_payee_info(self, payee_id: str) -> PayeeInfo:
        data = await self._call(self.dialect.riseid(payee_id))
        if data is None:
            raise PermanentProviderError(
                f"Rise knows no payee {payee_id}.", provider=PROVIDER, code=INVALID_PAYEE.code
            )
        kyc = KYC.get(str(data.get("kyc_status")), "pending")
        return PayeeInfo(
            provider=PROVIDER,
            payee_id=str(data.get("riseid", payee_id)),
            email=data.get("email"),
            kyc_status=kyc,
            can_receive_payments=bool(data.get("can_receive_payments", kyc == "approved")),
        )

    async def balance(self, currency: str) -> PayoutBalance:
        if currency.upper() != "USD":
            self._units(Money(1, currency))
        data = await self._call(self.dialect.balance(self.config.company_id))
        if data is None:
            raise PermanentProviderError(
                "Rise knows no company account RISE_COMPANY_ID.",
                provider=PROVIDER,
                code=PROVIDER_REJECTED.code,
            )
        decimals = int(data.get("decimals", typed_data.USDC_DECIMALS))
        units = int(str(data["balance"]))
        if decimals != typed_data.USDC_DECIMALS:  # a token with other decimals: to USDC's
            shift = typed_data.USDC_DECIMALS - decimals
            units = units * 10**shift if shift > 0 else units // 10**-shift
        return PayoutBalance(provider=PROVIDER, available=typed_data.money_from_usdc(units))

    async def invite_payee(self, request: InviteRequest) -> InviteResult:
        salt = self._salt(f"invite:{request.idempotency_key}")
        invite_request = self.dialect.invite(
            self.config.company_id, request.email, request.first_name, request.last_name, salt
        )
        data = await self._call(invite_request, write=True)
        invite = (data or {}).get("invite", {})
        status: Literal["sent", "accepted"] = (
            "accepted" if invite.get("status") == "accepted" else "sent"
        )
        return InviteResult(
            provider=PROVIDER,
            invite_id=str(invite.get("nanoid", "")),
            email=str(invite.get("email", request.email)),
            status=status,
            payee_id=invite.get("riseid"),
        )
