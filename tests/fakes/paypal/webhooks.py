"""Webhooks as PayPal sends them: the event JSON, signed with the transmission signature.

PayPal signs ``<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body as an
unsigned decimal>`` with SHA256withRSA and names the certificate that verifies it in
``PAYPAL-CERT-URL``; receivers check the certificate, then the signature over the bytes they
received. Here the key and its self-signed certificate are made with ``cryptography`` (once per
process), and the stand-in serves the certificate at its own URL.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.fakes.paypal.state import now, paypal_id

AUTH_ALGO = "SHA256withRSA"
CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-kassa0fake"
RESOURCE_TYPES = {
    "CHECKOUT.ORDER.APPROVED": "checkout-order",
    "PAYMENT.CAPTURE.COMPLETED": "capture",
    "PAYMENT.CAPTURE.DENIED": "capture",
    "PAYMENT.CAPTURE.REFUNDED": "refund",
    "CUSTOMER.DISPUTE.CREATED": "dispute",
}
SUMMARIES = {
    "CHECKOUT.ORDER.APPROVED": "An order has been approved by buyer",
    "PAYMENT.CAPTURE.COMPLETED": "Payment completed",
    "PAYMENT.CAPTURE.DENIED": "Payment denied",
    "PAYMENT.CAPTURE.REFUNDED": "A capture payment was refunded",
    "CUSTOMER.DISPUTE.CREATED": "A new dispute opened with Case # PP-D-4242",
}


@dataclass(frozen=True)
class SigningKey:
    key: rsa.RSAPrivateKey
    certificate_pem: bytes

    def sign(self, message: bytes) -> str:
        signature = self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verifies(self, message: bytes, signature: str) -> bool:
        try:
            self.key.public_key().verify(
                base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


@lru_cache(maxsize=1)
def signing_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal")])
    start = datetime.now(UTC) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(key, certificate.public_bytes(serialization.Encoding.PEM))


def crc32(body: bytes) -> int:
    return zlib.crc32(body) & 0xFFFFFFFF


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc32(body)}".encode()


def event(event_type: str, resource: dict[str, Any], *, base: str) -> dict[str, Any]:
    # Real ids read "WH-...-..."; the documents allow only letters and digits (the resend
    # path's pattern), and the documents are what the stand-in is held to.
    event_id = f"WH{paypal_id()}{paypal_id()}"
    return {
        "id": event_id,
        "event_version": "1.0",
        "create_time": now(),
        "resource_type": RESOURCE_TYPES[event_type],
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": SUMMARIES[event_type],
        "resource": resource,
        "links": [
            {
                "href": f"{base}/v1/notifications/webhooks-events/{event_id}",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": f"{base}/v1/notifications/webhooks-events/{event_id}/resend",
                "rel": "resend",
                "method": "POST",
            },
        ],
    }


@dataclass
class Transmission:
    """One delivery of an event: the exact bytes and headers sent, and what came back."""

    event_id: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None


def transmission(body: bytes, event_id: str, *, webhook_id: str, cert_url: str) -> Transmission:
    transmission_id = str(uuid.uuid4())
    transmission_time = now()
    key = signing_key()
    headers = {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": key.sign(
            signed_message(transmission_id, transmission_time, webhook_id, body)
        ),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": AUTH_ALGO,
    }
    return Transmission(event_id, body, headers)


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


@dataclass
class Outbox:
    """Events made, and every transmission of them (a resend is another transmission)."""

    events: dict[str, bytes] = field(default_factory=dict)  # id -> the bytes first sent
    sent: list[Transmission] = field(default_factory=list)

    def types_sent(self) -> list[str]:
        return [json.loads(t.body)["event_type"] for t in self.sent]
