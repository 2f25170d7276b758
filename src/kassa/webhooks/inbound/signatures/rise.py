"""Verifying Rise webhooks on the raw body bytes: both schemes Rise documents.

1. **Signed hash** (docs.riseworks.io "Webhooks", seed 000): ``x-rise-hash`` is the keccak-256
   of the body (``ethers.id(body)``, 0x-hex) and ``x-rise-signature`` an EIP-191
   ``personal_sign`` by Rise's signer key of that hash *as text* (``ethers.verifyMessage(hash,
   signature)``; a signature of the 32 hash bytes is accepted too). kassa hashes the bytes it
   received (never a re-serialised JSON), compares with the header, recovers the signer and
   compares it with the configured Rise signer address (``RISE_SIGNER_ADDRESS``, shown in
   Rise's developer page).
2. **HMAC** (Rise's B2B webhook docs, ``@riseworks/sdk`` ``WebhookValidator``):
   ``x-rise-signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` with the endpoint's webhook
   secret. The signed bytes are assumed to be ``f"{t}.".encode() + body`` (the scheme Stripe
   uses, which Rise's header copies; its docs do not spell the payload out). Several ``v1``
   values (secret rotation) are accepted.

Either way an event older (or further in the future) than ``tolerance`` seconds is refused:
the HMAC scheme dates the signature (``t``); the signed-hash scheme only dates the event, by
its ``timestamp`` (v1 events) or ``created`` (B2B events) field, read after the signature
checked out. The event id for dedupe is ``idempotent_key`` (v1) or ``idempotency_key``/``id``.

Pure functions: no I/O, no clock of their own (``now`` is passed in), no secrets in messages.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from kassa.core import jsontext
from kassa.core.digits import ascii_digits

HASH_HEADER = "x-rise-hash"
SIGNATURE_HEADERS = ("x-rise-signature", "rise-signature")
DEFAULT_TOLERANCE = 300  # seconds, the replay window


class RiseSignatureError(ValueError):
    """The request is not a valid Rise webhook; ``reason`` is a stable word for metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RiseEvent:
    event_id: str
    event_type: str
    timestamp: int
    scheme: str  # "signed_hash" | "hmac"
    payload: dict[str, Any]


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def body_hash(body: bytes) -> str:
    """``x-rise-hash`` of ``body``: 0x-hex keccak-256 of the exact bytes."""
    digest: bytes = keccak(body)
    return "0x" + digest.hex()


def hmac_signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _fresh(timestamp: int, now: float, tolerance: int) -> None:
    if abs(now - timestamp) > tolerance:
        raise RiseSignatureError("stale", f"The event is outside the {tolerance} s window.")


def _event(body: bytes, scheme: str, signed_at: int | None) -> RiseEvent:
    try:
        payload = jsontext.loads(body)
    except ValueError:
        raise RiseSignatureError("malformed", "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise RiseSignatureError("malformed", "The body is not a JSON object.")
    event_id = payload.get("idempotency_key") or payload.get("idempotent_key") or payload.get("id")
    event_type = payload.get("event_type") or payload.get("type")
    stamp = payload.get("created", payload.get("timestamp", signed_at))
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise RiseSignatureError("malformed", "The event has no id or type.")
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise RiseSignatureError("malformed", "The event has no Unix timestamp.")
    return RiseEvent(event_id, event_type, signed_at or stamp, scheme, payload)


def verify_signed_hash(
    body: bytes,
    headers: Mapping[str, str],
    *,
    signer_address: str,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> RiseEvent:
    """Scheme 1: keccak hash of the raw body, signed by Rise's signer (EIP-191)."""
    h = _headers(headers)
    claimed = h.get(HASH_HEADER, "")
    signature = h.get("x-rise-signature", "")
    if not claimed or not signature:
        raise RiseSignatureError("missing", "x-rise-hash or x-rise-signature is missing.")
    if not hmac.compare_digest(claimed.lower(), body_hash(body)):
        raise RiseSignatureError("hash_mismatch", "x-rise-hash is not the body's keccak-256.")
    # Rise's docs sign the hash as text (ethers.verifyMessage(hash, sig)); a signer of the 32
    # hash bytes themselves signed the same body, so that is accepted too.
    signers = set()
    for message in (encode_defunct(text=claimed), encode_defunct(hexstr=claimed)):
        try:
            signers.add(Account.recover_message(message, signature=signature).lower())
        except Exception:  # malformed signatures raise several types in eth-keys
            raise RiseSignatureError("bad_signature", "x-rise-signature is malformed.") from None
    if signer_address.lower() not in signers:
        raise RiseSignatureError("wrong_signer", "The hash was not signed by Rise's signer.")
    event = _event(body, "signed_hash", None)
    _fresh(event.timestamp, now, tolerance)
    return event


def verify_hmac(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> RiseEvent:
    """Scheme 2: ``t=<ts>,v1=<hex>`` HMAC-SHA256 of ``t.body`` with the webhook secret."""
    h = _headers(headers)
    value = next((h[name] for name in SIGNATURE_HEADERS if name in h), "")
    parts = [p.strip().split("=", 1) for p in value.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    candidates = [v for k, v in parts if k == "v1"]
    if len(stamps) != 1 or not ascii_digits(stamps[0]) or not candidates:
        raise RiseSignatureError("missing", "The signature header has no t= and v1=.")
    timestamp = int(stamps[0])
    expected = hmac_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c.lower()) for c in candidates):
        raise RiseSignatureError("bad_signature", "No v1 signature matches the body.")
    _fresh(timestamp, now, tolerance)
    return _event(body, "hmac", timestamp)


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float,
    signer_address: str | None = None,
    secret: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> RiseEvent:
    """Whichever scheme the request carries, if it is configured: ``x-rise-hash`` means the
    signed hash, a ``t=`` signature header the HMAC. Anything else is refused."""
    h = _headers(headers)
    if HASH_HEADER in h:
        if not signer_address:
            raise RiseSignatureError("not_configured", "No Rise signer address is configured.")
        return verify_signed_hash(
            body, h, signer_address=signer_address, now=now, tolerance=tolerance
        )
    if any(h.get(name, "").startswith("t=") for name in SIGNATURE_HEADERS):
        if not secret:
            raise RiseSignatureError("not_configured", "No Rise webhook secret is configured.")
        return verify_hmac(body, h, secret=secret, now=now, tolerance=tolerance)
    raise RiseSignatureError("missing", "The request carries no Rise signature.")
