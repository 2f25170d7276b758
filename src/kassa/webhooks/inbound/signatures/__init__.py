"""Signature verification of provider webhooks: pure functions over the raw bytes and headers
received, one module per provider. Each returns the ``ParsedEvent`` or raises
``INVALID_SIGNATURE`` (or ``INVALID_WEBHOOK_PAYLOAD`` for a signed body that is no event), with
a detail that names what failed and never a secret."""

from kassa.webhooks.inbound.signatures.event import ParsedEvent

__all__ = ["ParsedEvent"]
