"""``kassa_inbound_webhooks_total{provider,outcome}``: every delivery, by what became of it."""

from __future__ import annotations

from prometheus_client import Counter

from kassa.core.metrics import REGISTRY

STORED = "stored"  # verified, stored and acknowledged
DUPLICATE = "duplicate"  # verified, already stored: acknowledged, nothing written
INVALID_SIGNATURE = "invalid_signature"
INVALID_PAYLOAD = "invalid_payload"
UNKNOWN_RECEIVER = "unknown_receiver"  # no such provider or credentials
TOO_LARGE = "too_large"
FAILED = "failed"  # the database could not store it: 503, the provider retries

inbound_webhooks = Counter(
    "kassa_inbound_webhooks_total",
    "Provider webhooks received, by provider and outcome.",
    ["provider", "outcome"],
    registry=REGISTRY,
)


def count(provider: str, outcome: str) -> None:
    inbound_webhooks.labels(provider, outcome).inc()
