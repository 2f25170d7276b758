"""Braintree: a form-encoded body of ``bt_signature`` and ``bt_payload``, checked and parsed by
the braintree SDK (``gateway.webhook_notification.parse``: HMAC-SHA1 keyed by the SHA-1 of
the private key over the payload, as ``public_key|signature`` pairs).

Braintree's notifications carry no id of their own and a redelivery repeats the same payload,
so the event id is a digest of the payload: a redelivered or replayed notification finds the
stored one. (No timestamp tolerance: Braintree signs no time, and retries for hours.)
"""

from __future__ import annotations

import hashlib
from base64 import decodebytes
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import braintree  # type: ignore[import-untyped]
import orjson
from braintree.exceptions.invalid_signature_error import (  # type: ignore[import-untyped]
    InvalidSignatureError,
)
from braintree.util.xml_util import XmlUtil  # type: ignore[import-untyped]

from kassa.providers.credentials import Credentials
from kassa.webhooks.inbound.errors import INVALID_SIGNATURE, INVALID_WEBHOOK_PAYLOAD
from kassa.webhooks.inbound.signatures.event import ParsedEvent

ENVIRONMENTS = {
    "sandbox": braintree.Environment.Sandbox,
    "production": braintree.Environment.Production,
}


def gateway_for(credentials: Credentials) -> braintree.BraintreeGateway:
    fields = credentials.fields
    environment = ENVIRONMENTS.get(fields.get("environment", "sandbox"), ENVIRONMENTS["sandbox"])
    return braintree.BraintreeGateway(
        braintree.Configuration(
            environment=environment,
            merchant_id=fields.get("merchant_id", ""),
            public_key=fields.get("public_key", ""),
            private_key=fields.get("private_key", ""),
        )
    )


def _plain(value: Any) -> Any:
    """The SDK's parsed XML as JSON values (its datetimes and decimals as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def verify(body: bytes, gateway: braintree.BraintreeGateway) -> ParsedEvent:
    """The notification the form ``body`` holds, if its signature is the gateway's."""
    try:
        form = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise INVALID_SIGNATURE(
            "The body is not a form with bt_signature and bt_payload."
        ) from None
    signature = (form.get("bt_signature") or [""])[0]
    payload = (form.get("bt_payload") or [""])[0]
    if not signature or not payload:
        raise INVALID_SIGNATURE("bt_signature or bt_payload is missing.")
    try:
        notification = gateway.webhook_notification.parse(signature, payload)
    except InvalidSignatureError:
        raise INVALID_SIGNATURE(
            "bt_signature does not sign bt_payload with the configured Braintree keys."
        ) from None
    except Exception:  # the SDK's XML parser on a signed but broken payload
        raise INVALID_WEBHOOK_PAYLOAD("bt_payload is not a Braintree notification.") from None
    return parsed(notification, payload)


def parsed(notification: Any, payload: str) -> ParsedEvent:
    """The stored form of a notification the SDK accepted: its kind, and its XML as data."""
    kind = str(getattr(notification, "kind", "") or "")
    if not kind:
        raise INVALID_WEBHOOK_PAYLOAD("bt_payload is not a Braintree notification.")
    raw = payload.encode("ascii")
    document = _plain(XmlUtil.dict_from_xml(decodebytes(raw)))
    content = document.get("notification", {}) if isinstance(document, dict) else {}
    text = orjson.dumps(content).decode()
    if "\\u0000" in text:
        raise INVALID_WEBHOOK_PAYLOAD("bt_payload holds a NUL character.")
    return ParsedEvent(
        event_id=f"bt_{hashlib.sha256(raw.strip()).hexdigest()}",
        event_type=kind[:100],
        payload=orjson.loads(text),
        payload_json=text,
    )
