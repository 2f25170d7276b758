"""Signing deliveries: Standard Webhooks headers plus the seed's X-Webhook-Signature.

Standard Webhooks (https://www.standardwebhooks.com): ``webhook-signature`` is
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with the base64-decoded part of
the ``whsec_`` secret; during a rotation one ``v1,`` signature per live secret, space-separated.
Seed 002: ``X-Webhook-Signature`` is the hex HMAC-SHA256 of ``"{timestamp}.{body}"`` keyed with
the secret exactly as the merchant was shown it (its UTF-8 bytes), signed with the current
secret only (that header carries one signature).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

import kassa

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = f"kassa/{kassa.__version__}"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: its base64 part, decoded."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def seed_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(
    secrets_in_use: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header of a delivery; ``secrets_in_use[0]`` is the current secret."""
    current = secrets_in_use[0]
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(s, msg_id, timestamp, body) for s in secrets_in_use
        ),
        "x-webhook-timestamp": str(timestamp),
        "x-webhook-signature": seed_signature(current, timestamp, body),
    }
