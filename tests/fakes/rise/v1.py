"""Rise's v1 routes on the stand-in (seed 000's flow), over the same checks and state as v2:
``GET``/``POST /v1/auth/api/siwe``; ``PUT /v1/payments/batch-pay`` answers EIP-712 JSON
(``types`` with ``EIP712Domain``, ``primaryType``, ``message``), ``POST`` executes it with
``request`` (the signed message) and ``signature``; ``/v1/payments``, ``/v1/riseid``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.rise.wire import ok, siwe_fields

if TYPE_CHECKING:
    from tests.fakes.rise.server import RiseStandIn

DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def add_routes(router: web.UrlDispatcher, rise: RiseStandIn) -> None:
    async def siwe(request: web.Request) -> web.StreamResponse:
        return rise.challenge(request.query.get("wallet", ""), rise.company_id, key="message")

    async def verify(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        text = body.get("message")
        if str(body.get("wallet", "")).lower() != rise.company_wallet.lower():
            return rise.refusal(401, "SIGNATURE_MISMATCH", "The wallet is not the signer")
        nonce = siwe_fields(text).get("Nonce") if isinstance(text, str) else None
        return rise.accept_siwe(text, body.get("signature"), nonce, key="token")

    def _lines(body: dict[str, Any]) -> list[dict[str, str]] | web.Response:
        if str(body.get("wallet", "")).lower() != rise.company_wallet.lower():
            return rise.refusal(403, "FORBIDDEN", "The wallet has no role on this RiseID")
        if str(body.get("rise_id", "")).lower() != rise.company_id.lower():
            return rise.refusal(403, "FORBIDDEN", "Payments must come from the company")
        payments = body.get("payments")
        if not isinstance(payments, list) or not payments:
            return rise.refusal(400, "BAD_REQUEST", "payments must list payments")
        if len(payments) > rise.batch_limit:
            return rise.refusal(400, "BATCH_TOO_LARGE", f"At most {rise.batch_limit} payments")
        lines = []
        for p in payments:
            amount, salt = str(p.get("amount", "")), str(p.get("salt", ""))
            if not amount.isdigit() or int(amount) <= 0 or not salt.isdigit():
                return rise.refusal(400, "BAD_REQUEST", "amount and salt are decimal strings")
            if not re.fullmatch(r"0x[0-9a-fA-F]{40}", str(p.get("recipient", ""))):
                return rise.refusal(400, "INVALID_RECIPIENT", "Recipient is not a RiseID")
            lines.append({"recipient": p["recipient"], "amount": amount, "salt": salt})
        if str(body.get("total_amount")) != str(sum(int(x["amount"]) for x in lines)):
            return rise.refusal(400, "BAD_REQUEST", "total_amount is not the sum of the payments")
        return lines

    async def create(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        lines = _lines(body)
        if isinstance(lines, web.Response):
            return lines
        payload = rise.issue_intent(lines, int(str(body.get("salt") or "0")))
        return ok(
            {
                "domain": payload["domain"],
                "types": {"EIP712Domain": DOMAIN_TYPE, **payload["types"]},
                "primaryType": payload["primary_type"],
                "message": payload["typed_data"],
            }
        )

    async def execute(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        lines = _lines(body)
        if isinstance(lines, web.Response):
            return lines
        message = body.get("request")
        intent = rise.intents.get(int(str((message or {}).get("salt", "-1"))))
        if intent is None or not isinstance(message, dict):
            return rise.refusal(400, "INVALID_TYPED_DATA", "This typed data was not issued")
        if message.get("data") != lines:
            return rise.refusal(400, "INVALID_TYPED_DATA", "request does not match payments")
        payload = {**intent.payload, "typed_data": message}
        return rise.execute(payload, body.get("signature"))

    router.add_get("/v1/auth/api/siwe", siwe)
    router.add_post("/v1/auth/api/siwe", verify)
    router.add_put("/v1/payments/batch-pay", create)
    router.add_post("/v1/payments/batch-pay", execute)
    router.add_get("/v1/payments", rise.query_payments)
    router.add_get("/v1/payments/{nanoid}", rise.get_payment)
    router.add_post("/v1/riseid/invite", rise.invite)
    router.add_get("/v1/riseid/{riseid}/balance", rise.balance)
    router.add_get("/v1/riseid/{riseid}", rise.riseid)
