"""Which verification each provider's webhooks get, with the credentials they were sent for.

``Verifiers.verify`` is the one call the receiver makes: it picks the provider's scheme,
holds what is worth keeping between deliveries (PayPal's certificates, PayPal API clients,
Braintree gateways), and answers the event or raises ``INVALID_SIGNATURE`` /
``INVALID_WEBHOOK_PAYLOAD``. Credentials that cannot verify anything (no signing secret, no
webhook id, no keys) are ``WEBHOOK_RECEIVER_UNKNOWN``: nothing could ever be accepted there.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

import braintree as braintree_sdk  # type: ignore[import-untyped]

from kassa.core.settings import Settings
from kassa.providers.credentials import DEFAULT, Credentials
from kassa.webhooks.inbound.errors import (
    INVALID_SIGNATURE,
    INVALID_WEBHOOK_PAYLOAD,
    WEBHOOK_RECEIVER_UNKNOWN,
)
from kassa.webhooks.inbound.signatures import braintree, paypal, paypal_api, rise, stripe
from kassa.webhooks.inbound.signatures.certificates import PayPalCertificates
from kassa.webhooks.inbound.signatures.event import ParsedEvent, json_object

PROVIDERS = ("stripe", "paypal", "braintree", "rise")
RISE_TOLERANCE = 300  # seconds: the replay window the issue and Rise's docs give


def rise_credentials(settings: Settings) -> dict[str, Credentials]:
    """The install's Rise webhook credentials (``/webhooks/rise``), when a scheme is set:
    Rise is a payout provider, so they are not among the pay-in providers' defaults."""
    fields = {"signer_address": settings.rise_signer_address or ""}
    if settings.rise_webhook_secret is not None:
        fields["webhook_secret"] = settings.rise_webhook_secret.get_secret_value()
    fields = {k: v for k, v in fields.items() if v}
    if not fields:
        return {}
    live = settings.rise_environment == "production"
    return {"rise": Credentials(DEFAULT, "rise", livemode=live, fields=fields)}


def can_verify(credentials: Credentials) -> bool:
    fields = credentials.fields
    if credentials.kind == "stripe":
        return bool(stripe.secrets_of(fields.get("webhook_secret")))
    if credentials.kind == "paypal":
        return bool(fields.get("webhook_id"))
    if credentials.kind == "braintree":
        return bool(fields.get("public_key") and fields.get("private_key"))
    if credentials.kind == "rise":
        return bool(fields.get("signer_address") or fields.get("webhook_secret"))
    return False


class Verifiers:
    def __init__(self, settings: Settings, *, certificates: PayPalCertificates | None = None):
        self.tolerance = settings.inbound_webhook_tolerance_seconds
        self.paypal_mode = settings.paypal_webhook_verify
        hosts = [h for h in settings.paypal_cert_hosts.split(",") if h.strip()]
        self.certificates = certificates or PayPalCertificates(hosts)
        self._paypal_clients: dict[tuple[str, str, str], paypal_api.PayPalVerifyClient] = {}
        self._gateways: dict[tuple[str, str, str], braintree_sdk.BraintreeGateway] = {}

    async def verify(
        self, credentials: Credentials, body: bytes, headers: Mapping[str, str]
    ) -> ParsedEvent:
        if not can_verify(credentials):
            raise WEBHOOK_RECEIVER_UNKNOWN("These credentials have no webhook secret configured.")
        fields = credentials.fields
        if credentials.kind == "stripe":
            return stripe.verify(
                body,
                headers.get(stripe.HEADER),
                stripe.secrets_of(fields.get("webhook_secret")),
                now=time.time(),
                tolerance=self.tolerance,
            )
        if credentials.kind == "paypal":
            if self.paypal_mode == "api":
                return await paypal_api.verify_api(
                    body, headers, fields["webhook_id"], self._paypal_client(credentials)
                )
            return await paypal.verify_local(
                body,
                headers,
                fields["webhook_id"],
                self.certificates,
                now=datetime.now(UTC),
                tolerance=self.tolerance,
            )
        if credentials.kind == "rise":
            return verify_rise(body, headers, fields, now=time.time())
        return braintree.verify(body, self._gateway(credentials))

    def _paypal_client(self, credentials: Credentials) -> paypal_api.PayPalVerifyClient:
        fields = credentials.fields
        base = fields.get("api_base") or paypal_api.API_BASES.get(
            fields.get("environment", "sandbox"), paypal_api.API_BASES["sandbox"]
        )
        key = (base, fields.get("client_id", ""), fields.get("client_secret", ""))
        client = self._paypal_clients.get(key)
        if client is None:
            client = self._paypal_clients[key] = paypal_api.PayPalVerifyClient(*key)
        return client

    def _gateway(self, credentials: Credentials) -> braintree_sdk.BraintreeGateway:
        fields = credentials.fields
        key = (
            fields.get("environment", "sandbox"),
            fields.get("public_key", ""),
            fields.get("private_key", ""),
        )
        gateway = self._gateways.get(key)
        if gateway is None:
            gateway = self._gateways[key] = braintree.gateway_for(credentials)
        return gateway


def verify_rise(
    body: bytes, headers: Mapping[str, str], fields: Mapping[str, str], *, now: float
) -> ParsedEvent:
    """Either Rise scheme (``signatures/rise.py``), 5 minutes of replay window."""
    try:
        event = rise.verify(
            body,
            headers,
            now=now,
            signer_address=fields.get("signer_address"),
            secret=fields.get("webhook_secret"),
            tolerance=RISE_TOLERANCE,
        )
    except rise.RiseSignatureError as exc:
        if exc.reason == "malformed":
            raise INVALID_WEBHOOK_PAYLOAD(str(exc)) from None
        raise INVALID_SIGNATURE(str(exc)) from None
    json_object(body)  # the same storable-JSON checks as every provider's
    if len(event.event_id) > 255 or len(event.event_type) > 100:
        raise INVALID_WEBHOOK_PAYLOAD("The event's id or type is too long.")
    return ParsedEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        payload=event.payload,
        payload_json=body.decode(),
    )
