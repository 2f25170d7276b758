"""The stand-in's wire pieces: envelopes, the SIWE text it issues, typed-data types, webhook
signatures (made with eth-account and hmac directly, never with kassa's verifier)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

TYPES: dict[str, list[dict[str, str]]] = {
    "CreatePaymentsForwardRequest": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "salt", "type": "uint256"},
        {"name": "expires", "type": "uint256"},
        {"name": "data", "type": "RisePayment[]"},
    ],
    "RisePayment": [
        {"name": "recipient", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "salt", "type": "uint256"},
    ],
}
FORWARDER = "0x" + keccak(text="RiseAccountForwarder").hex()[-40:]


def ok(data: object, status: int = 200) -> web.Response:
    return web.json_response({"success": True, "data": data}, status=status)


def refuse(
    status: int, code: str, message: str = "", headers: dict[str, str] | None = None
) -> web.Response:
    body = {"success": False, "data": {"code": code, "message": message or code}}
    return web.json_response(body, status=status, headers=headers)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def siwe_text(
    domain: str, address: str, chain_id: int, nonce: str, issued: float, expires: float
) -> str:
    return "\n".join(
        [
            f"{domain} wants you to sign in with your Ethereum account:",
            address,
            "",
            "Sign in to Rise with your wallet.",
            "",
            f"URI: https://{domain}",
            "Version: 1",
            f"Chain ID: {chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {iso(issued)}",
            f"Expiration Time: {iso(expires)}",
        ]
    )


def siwe_fields(text: str) -> dict[str, str]:
    """The fields of a SIWE text as the stand-in reads them (its own reading, not kassa's)."""
    lines = text.split("\n")
    fields = {
        "domain": lines[0].split(" wants you to sign in", 1)[0],
        "address": lines[1] if len(lines) > 1 else "",
    }
    for line in lines[2:]:
        if ": " in line:
            key, value = line.split(": ", 1)
            fields[key] = value
    return fields


def hmac_headers(body: bytes, secret: str, at: int) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256)
    return {"x-rise-signature": f"t={at},v1={mac.hexdigest()}"}


def signed_hash_headers(body: bytes, signer: LocalAccount) -> dict[str, str]:
    digest = "0x" + keccak(body).hex()
    signed = signer.sign_message(encode_defunct(text=digest))
    return {"x-rise-hash": digest, "x-rise-signature": "0x" + bytes(signed.signature).hex()}


def event_body(event_type: str, data: dict[str, Any], created: int) -> bytes:
    event = {
        "object": "event",
        "event_type": event_type,
        "event_version": "1.0",
        "idempotency_key": str(uuid.uuid4()),
        "created": created,
        **data,
    }
    return json.dumps(event, separators=(",", ":")).encode()
