"""PayPal: the transmission signature, verified locally.

PayPal signs ``<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body,
unsigned decimal>`` with SHA256withRSA and names the certificate in ``PAYPAL-CERT-URL``. The
certificate is fetched only from PayPal's own hosts over HTTPS (``certificates.py``), must be
within its validity dates, and the transmission time must be within ``tolerance`` of now, so a
captured delivery cannot be replayed later. The webhook id is this install's (or account's)
own: a delivery made for another webhook does not verify here.

``verify_api`` (``paypal_api.py``) asks PayPal's verify-webhook-signature API instead, when
``KASSA_PAYPAL_WEBHOOK_VERIFY=api``.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kassa.webhooks.inbound.errors import INVALID_SIGNATURE
from kassa.webhooks.inbound.signatures.certificates import CertificateSource
from kassa.webhooks.inbound.signatures.event import ParsedEvent, json_object, text_field

ALGORITHM = "SHA256withRSA"
DEFAULT_TOLERANCE = 300


@dataclass(frozen=True, slots=True)
class Transmission:
    """The PAYPAL-* headers of one delivery."""

    id: str
    time: str
    signature: str
    cert_url: str
    algorithm: str

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Transmission:
        names = {
            "id": "paypal-transmission-id",
            "time": "paypal-transmission-time",
            "signature": "paypal-transmission-sig",
            "cert_url": "paypal-cert-url",
            "algorithm": "paypal-auth-algo",
        }
        missing = [header for header in names.values() if not headers.get(header)]
        if missing:
            raise INVALID_SIGNATURE(f"The PayPal headers {', '.join(missing)} are missing.")
        return cls(**{field: headers[header] for field, header in names.items()})


def signed_message(
    body: bytes, transmission_id: str, transmission_time: str, webhook_id: str
) -> str:
    """What PayPal signs for a delivery of ``body``."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}"


def _check_time(transmission: Transmission, now: datetime, tolerance: float) -> None:
    try:
        sent = datetime.fromisoformat(transmission.time)
    except ValueError:
        raise INVALID_SIGNATURE("PAYPAL-TRANSMISSION-TIME is not an ISO 8601 time.") from None
    if sent.tzinfo is None or abs((now - sent).total_seconds()) > tolerance:
        raise INVALID_SIGNATURE(
            f"PAYPAL-TRANSMISSION-TIME is more than {int(tolerance)} seconds from now "
            "(a stale or replayed delivery)."
        )


def parse(body: bytes) -> ParsedEvent:
    payload = json_object(body)
    return ParsedEvent(
        event_id=text_field(payload, "id", 255),
        event_type=text_field(payload, "event_type", 100),
        payload=payload,
        payload_json=body.decode(),
    )


async def verify_local(
    body: bytes,
    headers: Mapping[str, str],
    webhook_id: str,
    certificates: CertificateSource,
    *,
    now: datetime,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ParsedEvent:
    """The event ``body`` holds, if PayPal signed this delivery of it for ``webhook_id``."""
    transmission = Transmission.of(headers)
    if transmission.algorithm != ALGORITHM:
        raise INVALID_SIGNATURE(f"PAYPAL-AUTH-ALGO is not {ALGORITHM}.")
    _check_time(transmission, now, tolerance)
    try:
        signature = base64.b64decode(transmission.signature, validate=True)
    except (binascii.Error, ValueError):
        raise INVALID_SIGNATURE("PAYPAL-TRANSMISSION-SIG is not base64.") from None
    certificate = await certificates.get(transmission.cert_url, now=now)
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise INVALID_SIGNATURE("The PayPal certificate has no RSA key.")
    message = signed_message(body, transmission.id, transmission.time, webhook_id)
    try:
        key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise INVALID_SIGNATURE(
            "The PayPal transmission signature does not match the body for this webhook id."
        ) from None
    return parse(body)
