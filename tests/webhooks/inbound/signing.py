"""Webhooks signed as each provider signs them (the tests' own small signers)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

STRIPE_SECRET = "whsec_test_current"
STRIPE_OLD_SECRET = "whsec_test_previous"
PAYPAL_WEBHOOK_ID = "1JE4291016473214C"
BRAINTREE = {"merchant_id": "mid", "public_key": "pubkey1", "private_key": "privkey1"}


def stripe_event(event_id: str | None = None, type: str = "payment_intent.succeeded") -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type,
        "livemode": False,
        "created": int(time.time()),
        "data": {"object": {"id": "pi_123", "object": "payment_intent", "amount": 1000}},
    }
    return json.dumps(event).encode()


def stripe_header(body: bytes, secret: str = STRIPE_SECRET, at: float | None = None) -> str:
    t = int(at if at is not None else time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class PayPalSigner:
    """A self-signed certificate and key, as PayPal's signing certificate would be."""

    def __init__(self, *, valid_days: int = 30, expired: bool = False) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts")])
        now = datetime.now(UTC)
        start = now - timedelta(days=60) if expired else now - timedelta(days=1)
        end = now - timedelta(days=1) if expired else now + timedelta(days=valid_days)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def headers(
        self,
        body: bytes,
        cert_url: str,
        *,
        webhook_id: str = PAYPAL_WEBHOOK_ID,
        at: datetime | None = None,
    ) -> dict[str, str]:
        transmission_id = str(uuid.uuid4())
        when = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        crc = zlib.crc32(body) & 0xFFFFFFFF
        message = f"{transmission_id}|{when}|{webhook_id}|{crc}".encode()
        signature = self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": when,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "Content-Type": "application/json",
        }


def paypal_event(event_id: str | None = None, type: str = "PAYMENT.CAPTURE.COMPLETED") -> bytes:
    event: dict[str, Any] = {
        "id": event_id or f"WH-{uuid.uuid4().hex[:20].upper()}",
        "event_version": "1.0",
        "create_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resource_type": "capture",
        "event_type": type,
        "summary": "Payment completed",
        "resource": {"id": "2GG279541U471931P", "status": "COMPLETED"},
    }
    return json.dumps(event).encode()
