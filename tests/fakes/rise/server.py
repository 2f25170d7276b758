"""RiseStandIn: the Rise B2B API as kassa's client uses it, on 127.0.0.1, checking what Rise
checks.

- ``GET /v2/auth/siwe`` issues an EIP-4361 message with a fresh nonce for the company wallet;
  ``POST /v2/auth/verify`` accepts it once, only as issued (domain, address, nonce, chain id,
  issued-at, expiry checked field by field) and only signed by the company wallet (the signer
  recovered with eth-account), and answers a JWT (HS256, ``exp``) that every other route needs.
- ``POST /v2/payments`` answers EIP-712 typed data for the payments asked (at most
  ``batch_limit``, Rise's 100); ``PUT /v2/payments`` executes it only when the recovered signer
  is the company wallet and the typed data is the one issued and not expired. A salt already
  executed returns its transaction (never a second payment); the same salt for another
  payment is refused (SALT_REUSED). Balance decreases; a payee whose KYC is not approved gets a
  ``removed`` transaction (PAYEE_NOT_PAYABLE); too little balance refuses the group.
- States ``intent`` -> ``scheduled`` -> ``complete`` | ``removed``, moved by ``advance`` or
  after ``settle_seconds``; each move sends a signed webhook when ``webhook_url`` is set, in
  the signed-hash scheme (``x-rise-hash`` + ``x-rise-signature``) or the HMAC one.
- Faults: ``fail`` (a status such as 500 or 429, before or after acting), ``hang`` (timeouts).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from tests.fakes.rise import v1
from tests.fakes.rise.state import (
    Fault,
    Intent,
    Invite,
    Payee,
    SiweChallenge,
    Transaction,
    nanoid,
)
from tests.fakes.rise.wire import (
    FORWARDER,
    TYPES,
    event_body,
    hmac_headers,
    iso,
    ok,
    refuse,
    signed_hash_headers,
    siwe_fields,
    siwe_text,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RiseStandIn:
    def __init__(
        self,
        *,
        company_wallet: str,
        company_id: str,
        chain_id: int = 421614,
        domain: str = "rise.works",
        balance_units: int = 10**12,
        jwt_ttl: int = 24 * 3600,
        message_ttl: int = 600,
        typed_data_ttl: int = 600,
        batch_limit: int = 100,
        settle_seconds: float | None = None,
        webhook_url: str | None = None,
        webhook_scheme: str = "signed_hash",
    ) -> None:
        self.company_wallet = company_wallet
        self.company_id = company_id
        self.chain_id = chain_id
        self.domain = domain
        self.balance_units = balance_units
        self.jwt_ttl = jwt_ttl
        self.message_ttl = message_ttl
        self.typed_data_ttl = typed_data_ttl
        self.batch_limit = batch_limit
        self.settle_seconds = settle_seconds
        self.webhook_url = webhook_url
        self.webhook_scheme = webhook_scheme
        self.signer = Account.create()  # Rise's webhook signing key
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        # a hostile or broken Rise: change the typed data it answers (after recording the intent)
        self.alter_typed_data: Callable[[dict[str, Any]], None] | None = None
        self.alter_siwe: Callable[[str], str] | None = None  # ... or the sign-in message
        self.offset = 0.0  # seconds added to the real time: tests move the stand-in's clock
        self._jwt_secret = secrets.token_bytes(32)
        self._valid_jtis: set[str] = set()
        self.challenges: dict[str, SiweChallenge] = {}
        self.payees: dict[str, Payee] = {}
        self.transactions: dict[str, Transaction] = {}  # by nanoid
        self.by_salt: dict[int, Transaction] = {}
        self.groups: dict[int, str] = {}  # group salt -> group id
        self.groups_done: set[str] = set()  # groups whose batch.completed was sent
        self.intents: dict[int, Intent] = {}
        self.invites: list[Invite] = []
        self.faults: list[Fault] = []
        self.sign_ins = 0
        self.requests: list[tuple[str, str]] = []
        self.refusals: list[str] = []  # codes answered with an error, in order
        self.webhooks_sent: list[tuple[dict[str, str], bytes, int]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- life ---------------------------------------------------------------------------------
    async def start(self) -> RiseStandIn:
        app = web.Application(middlewares=[self._faults, self._auth])
        r = app.router
        r.add_get("/v2/auth/siwe", self.siwe)
        r.add_post("/v2/auth/verify", self.verify)
        r.add_post("/v2/payments", self.create_payments)
        r.add_put("/v2/payments", self.execute_payments)
        r.add_get("/v2/payments", self.query_payments)
        r.add_get("/v2/payments/{nanoid}", self.get_payment)
        r.add_post("/v2/riseid/invite", self.invite)
        r.add_get("/v2/riseid/{riseid}/balance", self.balance)
        r.add_get("/v2/riseid/{riseid}", self.riseid)
        v1.add_routes(r, self)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def now(self) -> float:
        return time.time() + self.offset

    # -- control ------------------------------------------------------------------------------
    def add_payee(
        self, email: str, kyc_status: str = "approved", riseid: str | None = None
    ) -> Payee:
        payee = Payee(riseid or Account.create().address, email, kyc_status)
        self.payees[payee.riseid.lower()] = payee
        return payee

    def fail(self, method: str, path: str, status: int = 500, **kw: Any) -> Fault:
        fault = Fault(method, path, status, **kw)
        self.faults.append(fault)
        return fault

    def hang(self, method: str, path: str, seconds: float, *, after: bool = False) -> Fault:
        fault = Fault(method, path, None, hang=seconds, after=after)
        self.faults.append(fault)
        return fault

    def revoke_tokens(self) -> None:
        self._valid_jtis.clear()

    async def advance(self, nanoid_: str, state: str, error_code: str | None = None) -> Transaction:
        tx = self.transactions[nanoid_]
        was, tx.state = tx.state, state
        if state == "removed" and was != "removed":
            tx.error = {
                "code": error_code or "PAYMENT_FAILED",
                "message": "Payment failed on chain.",
            }
            self.balance_units += tx.units  # the funds come back
        event = {
            "scheduled": "payment.initiated",
            "complete": "payment.completed",
            "removed": "payment.failed",
        }
        if state in event:
            await self.send_webhook(event[state], {"payment": tx.to_json()})
        group = [t for t in self.transactions.values() if t.group_id == tx.group_id]
        if tx.group_id not in self.groups_done and all(
            t.state in ("complete", "removed") for t in group
        ):
            self.groups_done.add(tx.group_id)
            summary = {"nanoid": tx.group_id, "payments": [t.to_json() for t in group]}
            await self.send_webhook("batch.completed", {"payment_group": summary})
        return tx

    async def advance_due(self) -> None:
        if self.settle_seconds is None:
            return
        for tx in list(self.transactions.values()):
            age = self.now() - tx.created_at
            if tx.state == "intent" and age >= self.settle_seconds / 2:
                await self.advance(tx.nanoid, "scheduled")
            if tx.state == "scheduled" and age >= self.settle_seconds:
                await self.advance(tx.nanoid, "complete")

    async def accept_invite(self, email: str, kyc_status: str = "pending") -> Payee:
        invite = next(i for i in self.invites if i.email == email)
        payee = self.add_payee(email, kyc_status)
        invite.status, invite.riseid = "accepted", payee.riseid
        await self.send_webhook("invites.invite_accepted", {"invite": invite.to_json()})
        return payee

    def webhook_headers(
        self, body: bytes, scheme: str | None = None, at: int | None = None
    ) -> dict[str, str]:
        if (scheme or self.webhook_scheme) == "hmac":
            return hmac_headers(body, self.webhook_secret, int(self.now()) if at is None else at)
        return signed_hash_headers(body, self.signer)

    async def send_webhook(self, event_type: str, data: dict[str, Any]) -> None:
        if self.webhook_url is None:
            return
        body = event_body(event_type, data, int(self.now()))
        headers = {"content-type": "application/json", **self.webhook_headers(body)}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook_url, data=body, headers=headers) as response,
        ):
            self.webhooks_sent.append((headers, body, response.status))

    # -- middleware ---------------------------------------------------------------------------
    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        fault = next(
            (
                f
                for f in self.faults
                if f.times > 0 and f.method == request.method and request.path.startswith(f.path)
            ),
            None,
        )
        if fault is None:
            return await handler(request)
        if fault.skip > 0:
            fault.skip -= 1
            return await handler(request)
        fault.times -= 1
        response = await handler(request) if fault.after else None
        if fault.hang:
            await asyncio.sleep(fault.hang)
        if fault.status is not None:
            self.refusals.append(fault.code)
            return refuse(fault.status, fault.code, headers=fault.headers or None)
        return response if response is not None else await handler(request)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(("/v2/auth/", "/v1/auth/")):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return self.refusal(401, "UNAUTHORIZED", "A Bearer JWT is required.")
        try:
            claims = jwt.decode(
                header[7:],
                self._jwt_secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            return self.refusal(401, "UNAUTHORIZED", "The JWT is not one Rise issued.")
        if claims.get("exp", 0) <= self.now() or claims.get("jti") not in self._valid_jtis:
            return self.refusal(401, "JWT_EXPIRED", "The JWT has expired.")
        if claims.get("sub", "").lower() != self.company_wallet.lower():
            return self.refusal(403, "FORBIDDEN", "The JWT is for another wallet.")
        return await handler(request)

    def refusal(self, status: int, code: str, message: str = "") -> web.Response:
        self.refusals.append(code)
        return refuse(status, code, message)

    # -- auth ---------------------------------------------------------------------------------
    async def siwe(self, request: web.Request) -> web.StreamResponse:
        return self.challenge(request.query.get("wallet", ""), request.query.get("riseid", ""))

    def challenge(self, wallet: str, riseid: str, key: str = "siwe") -> web.Response:
        if not re.fullmatch(r"0x[0-9a-fA-F]{40}", wallet):
            return self.refusal(400, "INVALID_WALLET", "Wallet address is required")
        if riseid.lower() != self.company_id.lower():
            return self.refusal(404, "INVALID_RISE_ID", "RiseID not found")
        if wallet.lower() != self.company_wallet.lower():
            return self.refusal(403, "FORBIDDEN", "The wallet has no role on this RiseID")
        now = self.now()
        nonce = secrets.token_hex(12)
        address = self.company_wallet
        text = siwe_text(self.domain, address, self.chain_id, nonce, now, now + self.message_ttl)
        self.challenges[nonce] = SiweChallenge(
            text, address, self.chain_id, self.domain, now, now + self.message_ttl
        )
        if self.alter_siwe is not None:
            text = self.alter_siwe(text)
        return ok({key: text})

    async def verify(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return self.accept_siwe(body.get("message"), body.get("sig"), body.get("nonce"))

    def accept_siwe(
        self, text: object, sig: object, nonce: object, key: str = "jwt"
    ) -> web.Response:
        if not (isinstance(text, str) and isinstance(sig, str) and isinstance(nonce, str)):
            return self.refusal(400, "BAD_REQUEST", "message, sig and nonce are required")
        challenge = self.challenges.get(nonce)
        if challenge is None or challenge.used:
            return self.refusal(401, "EXPIRED_NONCE", "The nonce was not issued or was used")
        fields = siwe_fields(text)
        checks = {
            "domain": fields.get("domain") == challenge.domain,
            "address": fields.get("address", "").lower() == challenge.address.lower(),
            "nonce": fields.get("Nonce") == nonce,
            "chain": fields.get("Chain ID") == str(challenge.chain_id),
            "issued": fields.get("Issued At") == iso(challenge.issued_at),
            "expiry": fields.get("Expiration Time") == iso(challenge.expires_at),
            "text": text == challenge.text,
        }
        if not all(checks.values()):
            bad = ", ".join(k for k, v in checks.items() if not v)
            return self.refusal(401, "SIGNATURE_MISMATCH", f"The message was altered ({bad})")
        if self.now() >= challenge.expires_at:
            return self.refusal(401, "EXPIRED_NONCE", "The message has expired")
        try:
            signer = Account.recover_message(encode_defunct(text=text), signature=sig)
        except Exception:
            return self.refusal(401, "SIGNATURE_MISMATCH", "The signature is malformed")
        if signer.lower() != self.company_wallet.lower():
            return self.refusal(401, "SIGNATURE_MISMATCH", "Signature verification failed")
        challenge.used = True
        jti = secrets.token_hex(8)
        self._valid_jtis.add(jti)
        now = int(self.now())
        token = jwt.encode(
            {
                "sub": signer,
                "riseid": self.company_id,
                "iat": now,
                "exp": now + self.jwt_ttl,
                "jti": jti,
            },
            self._jwt_secret,
            algorithm="HS256",
        )
        self.sign_ins += 1
        return ok({key: token})

    # -- payments -----------------------------------------------------------------------------
    async def create_payments(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if str(body.get("from", "")).lower() != self.company_id.lower():
            return self.refusal(403, "FORBIDDEN", "Payments must come from the company")
        entries = body.get("to")
        if not isinstance(entries, list) or not entries:
            return self.refusal(400, "BAD_REQUEST", "to must list payments")
        if len(entries) > self.batch_limit:
            return self.refusal(400, "BATCH_TOO_LARGE", f"At most {self.batch_limit} payments")
        data = []
        for e in entries:
            cents, salt = e.get("amount_cents"), str(e.get("salt", ""))
            if not isinstance(cents, int) or isinstance(cents, bool) or cents <= 0:
                return self.refusal(400, "BAD_REQUEST", "amount_cents must be a positive integer")
            if e.get("currency_symbol") != "USD" or not salt.isdigit():
                return self.refusal(400, "BAD_REQUEST", "USD and a numeric salt are required")
            if not re.fullmatch(r"0x[0-9a-fA-F]{40}", str(e.get("to", ""))):
                return self.refusal(400, "INVALID_RECIPIENT", "Recipient is not a RiseID")
            # Rise writes uint256 values as decimal strings
            data.append({"recipient": e["to"], "amount": str(cents * 10**4), "salt": salt})
        return ok(self.issue_intent(data, int(str(body.get("salt") or secrets.randbits(128)))))

    def issue_intent(self, data: list[dict[str, str]], group_salt: int) -> dict[str, Any]:
        """Typed data for ``data`` (v2's shape), remembered until it expires."""
        expires = int(self.now()) + self.typed_data_ttl
        payload = {
            "domain": {
                "name": "RiseAccountForwarder",
                "version": "1.0.0",
                "chainId": self.chain_id,
                "verifyingContract": FORWARDER,
            },
            "types": TYPES,
            "typed_data": {
                "from": self.company_wallet,
                "to": self.company_id,
                "salt": str(group_salt),
                "expires": str(expires),
                "data": data,
            },
            "primary_type": "CreatePaymentsForwardRequest",
        }
        self.intents[group_salt] = Intent(group_salt, json.loads(json.dumps(payload)), expires)
        if self.alter_typed_data is not None:
            self.alter_typed_data(payload)
        return payload

    async def execute_payments(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        payload, signature = body.get("typed_data"), body.get("signature")
        if str(body.get("signer", "")).lower() != self.company_wallet.lower():
            return self.refusal(403, "FORBIDDEN", "The signer has no role on this RiseID")
        return self.execute(payload, signature)

    def execute(self, payload: Any, signature: Any) -> web.Response:
        """Pay what signed typed data (v2's shape) says, once per salt."""
        try:
            message = payload["typed_data"]
            signable = encode_typed_data(
                domain_data=payload["domain"], message_types=payload["types"], message_data=message
            )
            signer = Account.recover_message(signable, signature=signature)
        except Exception:
            return self.refusal(
                400, "INVALID_SIGNATURE", "The typed data or signature is malformed"
            )
        if signer.lower() != self.company_wallet.lower():
            return self.refusal(400, "INVALID_SIGNATURE", "Signature verification failed")
        intent = self.intents.get(int(message.get("salt", -1)))
        if intent is None or intent.payload != payload:
            return self.refusal(400, "INVALID_TYPED_DATA", "This typed data was not issued")
        if self.now() > intent.expires:
            return self.refusal(400, "EXPIRED_TYPED_DATA", "Typed data has expired")
        group_id = self.groups.setdefault(intent.group_salt, nanoid("pg"))
        entries = message["data"]
        for e in entries:
            known = self.by_salt.get(int(e["salt"]))
            if known and (
                known.recipient.lower() != e["recipient"].lower() or known.units != int(e["amount"])
            ):
                return self.refusal(409, "SALT_REUSED", "This salt was used for another payment")
        fresh = [e for e in entries if int(e["salt"]) not in self.by_salt]
        payable = [e for e in fresh if self._payee_state(e["recipient"]) is None]
        if sum(int(e["amount"]) for e in payable) > self.balance_units:
            return self.refusal(400, "INSUFFICIENT_BALANCE", "Not enough funds in entity balance")
        answered = []
        for e in entries:
            tx = self.by_salt.get(int(e["salt"]))
            if tx is None:
                problem = self._payee_state(e["recipient"])
                tx = Transaction(
                    nanoid("pa"),
                    int(e["salt"]),
                    group_id,
                    e["recipient"],
                    int(e["amount"]),
                    int(e["amount"]) // 10**4,
                    "removed" if problem else "intent",
                    self.now(),
                    {"code": problem[0], "message": problem[1]} if problem else None,
                )
                if problem is None:
                    self.balance_units -= tx.units
                self.transactions[tx.nanoid] = tx
                self.by_salt[tx.salt] = tx
            answered.append(tx.to_json())
        return ok({"group_id": group_id, "payments": answered})

    def _payee_state(self, recipient: str) -> tuple[str, str] | None:
        payee = self.payees.get(recipient.lower())
        if payee is None:
            return ("INVALID_RECIPIENT", "Recipient is not a payee of this company")
        if payee.kyc_status != "approved":
            return ("PAYEE_NOT_PAYABLE", f"The payee's KYC is {payee.kyc_status}")
        return None

    async def query_payments(self, request: web.Request) -> web.StreamResponse:
        await self.advance_due()
        salt = request.query.get("salt")
        items = [t for t in self.transactions.values() if salt is None or str(t.salt) == salt]
        return ok({"items": [t.to_json() for t in items]})

    async def get_payment(self, request: web.Request) -> web.StreamResponse:
        await self.advance_due()
        tx = self.transactions.get(request.match_info["nanoid"])
        if tx is None:
            return self.refusal(404, "PAYMENT_NOT_FOUND", "No such payment")
        return ok(tx.to_json())

    # -- RiseIDs ------------------------------------------------------------------------------
    async def riseid(self, request: web.Request) -> web.StreamResponse:
        payee = self.payees.get(request.match_info["riseid"].lower())
        if payee is None:
            return self.refusal(404, "INVALID_RISE_ID", "RiseID not found")
        return ok(payee.to_json())

    async def balance(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["riseid"].lower() != self.company_id.lower():
            return self.refusal(403, "FORBIDDEN", "Only the company's own balance")
        return ok({"balance": str(self.balance_units), "decimals": 6, "symbol": "USDC"})

    async def invite(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if str(body.get("riseid", "")).lower() != self.company_id.lower():
            return self.refusal(403, "FORBIDDEN", "Invites come from the company")
        email, salt = body.get("email"), body.get("salt")
        if not isinstance(email, str) or "@" not in email:
            return self.refusal(400, "BAD_REQUEST", "email is required")
        for invite in self.invites:
            if salt is not None and invite.salt == salt:
                if invite.email != email:
                    return self.refusal(409, "SALT_REUSED", "This salt invited someone else")
                return ok({"invite": invite.to_json()})
        existing = next((i for i in self.invites if i.email == email), None)
        if existing is not None:
            return ok({"invite": existing.to_json()})
        invite = Invite(nanoid("in"), email, salt)
        self.invites.append(invite)
        return ok({"invite": invite.to_json()}, status=201)
