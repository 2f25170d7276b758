"""The Rise stand-in refuses what Rise refuses, driven with raw HTTP and eth-account (not with
kassa's client), so a flaw shared by client and stand-in cannot hide."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount

from kassa.webhooks.inbound.signatures import rise as rise_sig
from tests.fakes.rise.server import RiseStandIn
from tests.webhooks.receiver import Receiver


def _sign_text(text: str, account: LocalAccount) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


def _sign_typed(payload: dict[str, Any], account: LocalAccount) -> str:
    message = encode_typed_data(
        domain_data=payload["domain"],
        message_types=payload["types"],
        message_data=payload["typed_data"],
    )
    return "0x" + bytes(account.sign_message(message).signature).hex()


async def _challenge(http: httpx.AsyncClient, rise: RiseStandIn, wallet: str) -> tuple[str, str]:
    r = await http.get("/v2/auth/siwe", params={"wallet": wallet, "riseid": rise.company_id})
    assert r.status_code == 200, r.text
    text = r.json()["data"]["siwe"]
    match = re.search(r"^Nonce: (\w+)$", text, re.M)
    assert match
    return text, match.group(1)


async def _token(http: httpx.AsyncClient, rise: RiseStandIn, wallet: LocalAccount) -> str:
    text, nonce = await _challenge(http, rise, wallet.address)
    r = await http.post(
        "/v2/auth/verify", json={"message": text, "sig": _sign_text(text, wallet), "nonce": nonce}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["jwt"])


def _payments(rise: RiseStandIn, payees: list[str], cents: int = 1234) -> dict[str, Any]:
    return {
        "from": rise.company_id,
        "salt": "77",
        "to": [
            {"to": p, "amount_cents": cents, "currency_symbol": "USD", "salt": str(100 + i)}
            for i, p in enumerate(payees)
        ],
        "pay_now": True,
    }


async def test_siwe_accepts_only_the_issued_message_signed_by_the_company_wallet(
    rise: RiseStandIn, wallet: LocalAccount
) -> None:
    async with httpx.AsyncClient(base_url=rise.url) as http:
        text, nonce = await _challenge(http, rise, wallet.address)
        assert f"\n{wallet.address}\n" in text and f"Chain ID: {rise.chain_id}" in text
        stranger = Account.create()
        wrong_signer = await http.post(
            "/v2/auth/verify",
            json={"message": text, "sig": _sign_text(text, stranger), "nonce": nonce},
        )
        assert wrong_signer.status_code == 401
        altered = text.replace(f"Chain ID: {rise.chain_id}", "Chain ID: 1")
        tampered = await http.post(
            "/v2/auth/verify",
            json={"message": altered, "sig": _sign_text(altered, wallet), "nonce": nonce},
        )
        assert tampered.status_code == 401 and "chain" in tampered.json()["data"]["message"]
        good = {"message": text, "sig": _sign_text(text, wallet), "nonce": nonce}
        assert (await http.post("/v2/auth/verify", json=good)).status_code == 200
        replay = await http.post("/v2/auth/verify", json=good)
        assert replay.status_code == 401 and replay.json()["data"]["code"] == "EXPIRED_NONCE"
        other_wallet = await http.get(
            "/v2/auth/siwe", params={"wallet": stranger.address, "riseid": rise.company_id}
        )
        assert other_wallet.status_code == 403


async def test_an_expired_siwe_message_and_an_expired_jwt_are_refused(
    rise: RiseStandIn, wallet: LocalAccount
) -> None:
    async with httpx.AsyncClient(base_url=rise.url) as http:
        text, nonce = await _challenge(http, rise, wallet.address)
        rise.offset = rise.message_ttl + 1
        late = await http.post(
            "/v2/auth/verify",
            json={"message": text, "sig": _sign_text(text, wallet), "nonce": nonce},
        )
        assert late.status_code == 401
        rise.offset = 0
        token = await _token(http, rise, wallet)
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get(f"/v2/riseid/{rise.company_id}/balance", headers=auth)).is_success
        assert (await http.get(f"/v2/riseid/{rise.company_id}/balance")).status_code == 401
        forged = {"Authorization": "Bearer " + token[:-4] + "AAAA"}
        assert (
            await http.get(f"/v2/riseid/{rise.company_id}/balance", headers=forged)
        ).status_code == 401
        rise.offset = rise.jwt_ttl + 1
        expired = await http.get(f"/v2/riseid/{rise.company_id}/balance", headers=auth)
        assert expired.status_code == 401 and expired.json()["data"]["code"] == "JWT_EXPIRED"


async def test_payments_need_the_company_signature_on_the_issued_typed_data(
    rise: RiseStandIn, wallet: LocalAccount
) -> None:
    payee = rise.add_payee("a@example.com")
    async with httpx.AsyncClient(base_url=rise.url) as http:
        auth = {"Authorization": f"Bearer {await _token(http, rise, wallet)}"}
        r = await http.post("/v2/payments", json=_payments(rise, [payee.riseid]), headers=auth)
        payload = r.json()["data"]
        assert payload["typed_data"]["data"][0]["amount"] == str(1234 * 10**4)

        tampered = json.loads(json.dumps(payload))
        tampered["typed_data"]["data"][0]["amount"] = str(9_999 * 10**4)
        signed_then_changed = {
            "signer": wallet.address,
            "typed_data": tampered,
            "signature": _sign_typed(payload, wallet),
        }
        refused = await http.put("/v2/payments", json=signed_then_changed, headers=auth)
        assert refused.json()["data"]["code"] == "INVALID_SIGNATURE"

        resigned = {
            "signer": wallet.address,
            "typed_data": tampered,
            "signature": _sign_typed(tampered, wallet),
        }
        not_issued = await http.put("/v2/payments", json=resigned, headers=auth)
        assert not_issued.json()["data"]["code"] == "INVALID_TYPED_DATA"

        by_stranger = {
            "signer": wallet.address,
            "typed_data": payload,
            "signature": _sign_typed(payload, Account.create()),
        }
        assert (await http.put("/v2/payments", json=by_stranger, headers=auth)).status_code == 400
        assert rise.transactions == {} and rise.balance_units == 10**12

        good = {
            "signer": wallet.address,
            "typed_data": payload,
            "signature": _sign_typed(payload, wallet),
        }
        first = (await http.put("/v2/payments", json=good, headers=auth)).json()["data"]
        again = (await http.put("/v2/payments", json=good, headers=auth)).json()["data"]
        assert first["payments"][0]["nanoid"] == again["payments"][0]["nanoid"]
        assert first["payments"][0]["state"] == "intent"
        assert len(rise.transactions) == 1
        assert rise.balance_units == 10**12 - 1234 * 10**4


async def test_a_salt_is_one_payment_and_kyc_and_balance_are_enforced(
    rise: RiseStandIn, wallet: LocalAccount
) -> None:
    ready = rise.add_payee("ready@example.com")
    pending = rise.add_payee("pending@example.com", kyc_status="pending")
    async with httpx.AsyncClient(base_url=rise.url) as http:
        auth = {"Authorization": f"Bearer {await _token(http, rise, wallet)}"}

        async def pay(body: dict[str, Any]) -> httpx.Response:
            payload = (await http.post("/v2/payments", json=body, headers=auth)).json()["data"]
            signed = {
                "signer": wallet.address,
                "typed_data": payload,
                "signature": _sign_typed(payload, wallet),
            }
            return await http.put("/v2/payments", json=signed, headers=auth)

        mixed = (await pay(_payments(rise, [ready.riseid, pending.riseid]))).json()["data"]
        states = [(p["state"], (p["error"] or {}).get("code")) for p in mixed["payments"]]
        assert states == [("intent", None), ("removed", "PAYEE_NOT_PAYABLE")]

        reused = _payments(rise, [ready.riseid], cents=5000)  # salt 100 again, other amount
        assert (await pay(reused)).json()["data"]["code"] == "SALT_REUSED"

        rise.balance_units = 10
        poor = _payments(rise, [ready.riseid])
        poor["to"][0]["salt"] = "999"
        assert (await pay(poor)).json()["data"]["code"] == "INSUFFICIENT_BALANCE"

        too_many = _payments(rise, [ready.riseid] * 101)
        r = await http.post("/v2/payments", json=too_many, headers=auth)
        assert r.json()["data"]["code"] == "BATCH_TOO_LARGE"


async def test_state_moves_and_each_move_sends_a_webhook_kassa_can_verify(
    rise: RiseStandIn, wallet: LocalAccount
) -> None:
    receiver = await Receiver().start()
    rise.webhook_url = receiver.url("rise")
    try:
        payee = rise.add_payee("a@example.com")
        async with httpx.AsyncClient(base_url=rise.url) as http:
            auth = {"Authorization": f"Bearer {await _token(http, rise, wallet)}"}
            payload = (
                await http.post("/v2/payments", json=_payments(rise, [payee.riseid]), headers=auth)
            ).json()["data"]
            signed = {
                "signer": wallet.address,
                "typed_data": payload,
                "signature": _sign_typed(payload, wallet),
            }
            tx = (await http.put("/v2/payments", json=signed, headers=auth)).json()["data"][
                "payments"
            ][0]
            await rise.advance(tx["nanoid"], "scheduled")
            rise.webhook_scheme = "hmac"
            await rise.advance(tx["nanoid"], "complete")
            got = (await http.get(f"/v2/payments/{tx['nanoid']}", headers=auth)).json()["data"]
            assert got["state"] == "complete"
        first, second, batch = receiver.at("rise")
        now = rise.now()
        hashed = rise_sig.verify(
            first.body, first.headers, now=now, signer_address=rise.signer.address
        )
        assert hashed.scheme == "signed_hash" and hashed.event_type == "payment.initiated"
        macced = rise_sig.verify(second.body, second.headers, now=now, secret=rise.webhook_secret)
        assert macced.event_type == "payment.completed"
        assert macced.payload["payment"]["nanoid"] == tx["nanoid"]
        done = rise_sig.verify(batch.body, batch.headers, now=now, secret=rise.webhook_secret)
        assert done.event_type == "batch.completed"
    finally:
        await receiver.stop()


async def test_injected_faults_answer_as_told(rise: RiseStandIn, wallet: LocalAccount) -> None:
    rise.fail("GET", "/v2/riseid", 429, code="RATE_LIMITED", headers={"Retry-After": "2"})
    rise.fail("GET", "/v2/riseid", 503)
    async with httpx.AsyncClient(base_url=rise.url) as http:
        auth = {"Authorization": f"Bearer {await _token(http, rise, wallet)}"}
        path = f"/v2/riseid/{rise.company_id}/balance"
        limited = await http.get(path, headers=auth)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
        assert (await http.get(path, headers=auth)).status_code == 503
        assert (await http.get(path, headers=auth)).status_code == 200


async def test_v1_batch_pay_checks_the_signed_request_and_the_total(
    rise: RiseStandIn, wallet: LocalAccount
) -> None:
    payee = rise.add_payee("a@example.com")
    async with httpx.AsyncClient(base_url=rise.url) as http:
        r = await http.get("/v1/auth/api/siwe", params={"wallet": wallet.address})
        text = r.json()["data"]["message"]
        login = {"wallet": wallet.address, "message": text, "signature": _sign_text(text, wallet)}
        token = (await http.post("/v1/auth/api/siwe", json=login)).json()["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        body = {
            "wallet": wallet.address,
            "rise_id": rise.company_id,
            "salt": "5",
            "total_amount": "12340000",
            "payments": [{"recipient": payee.riseid, "amount": "12340000", "salt": "6"}],
        }
        wrong_total = {**body, "total_amount": "1"}
        bad = await http.put("/v1/payments/batch-pay", json=wrong_total, headers=auth)
        assert bad.status_code == 400
        typed = (await http.put("/v1/payments/batch-pay", json=body, headers=auth)).json()["data"]
        assert typed["primaryType"] == "CreatePaymentsForwardRequest"
        assert "EIP712Domain" in typed["types"]
        signature = _sign_typed(
            {
                "domain": typed["domain"],
                "types": {k: v for k, v in typed["types"].items() if k != "EIP712Domain"},
                "typed_data": typed["message"],
            },
            wallet,
        )
        inflated_line = [{"recipient": payee.riseid, "amount": "99990000", "salt": "6"}]
        inflated = {
            **body,
            "total_amount": "99990000",
            "payments": inflated_line,
            "request": {**typed["message"], "data": inflated_line},
            "signature": signature,
        }
        refused = await http.post("/v1/payments/batch-pay", json=inflated, headers=auth)
        assert refused.json()["data"]["code"] == "INVALID_SIGNATURE"
        good = {**body, "request": typed["message"], "signature": signature}
        paid = (await http.post("/v1/payments/batch-pay", json=good, headers=auth)).json()["data"]
        assert paid["payments"][0]["state"] == "intent"
        assert rise.balance_units == 10**12 - 12_340_000
