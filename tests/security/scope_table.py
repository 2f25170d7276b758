"""What each operation needs: the expectations of the hostile-merchant suite.

The same table is in docs/api.md ("Scopes of each operation"); a test keeps the two equal, and
another fails for any operation of the served /openapi.json that is in neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PUBLIC = "none"
ADMIN = "admin role"

NEEDS: dict[tuple[str, str], str] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/v1/auth/token"): PUBLIC,
    ("GET", "/v1/account"): "read",
    ("GET", "/v1/api_keys"): "api_keys",
    ("POST", "/v1/api_keys"): "api_keys",
    ("POST", "/v1/api_keys/{key_id}/revoke"): "api_keys",
    ("POST", "/v1/provider_credentials"): "provider_credentials",
    ("GET", "/v1/provider_credentials"): "provider_credentials",
    ("GET", "/v1/provider_credentials/{credentials_id}"): "provider_credentials",
    ("POST", "/v1/provider_credentials/{credentials_id}"): "provider_credentials",
    ("DELETE", "/v1/provider_credentials/{credentials_id}"): "provider_credentials",
    ("GET", "/v1/jobs"): ADMIN,
    ("GET", "/v1/jobs/{job_id}"): ADMIN,
    ("POST", "/v1/jobs/{job_id}/retry"): ADMIN,
    ("POST", "/v1/webhook_endpoints"): "read, write",
    ("GET", "/v1/webhook_endpoints"): "read",
    ("GET", "/v1/webhook_endpoints/{endpoint_id}"): "read",
    ("POST", "/v1/webhook_endpoints/{endpoint_id}"): "read, write",
    ("PATCH", "/v1/webhook_endpoints/{endpoint_id}"): "read, write",
    ("DELETE", "/v1/webhook_endpoints/{endpoint_id}"): "write",
    ("POST", "/v1/webhook_endpoints/{endpoint_id}/rotate_secret"): "write",
    ("POST", "/v1/webhook_endpoints/{endpoint_id}/test"): "write",
    ("POST", "/v1/webhook_endpoints/{endpoint_id}/recover"): "write",
    ("GET", "/v1/webhook_endpoints/{endpoint_id}/deliveries"): "read",
    ("GET", "/v1/events"): "read",
    ("GET", "/v1/events/{event_id}"): "read",
    ("POST", "/v1/events/{event_id}/replay"): "write",
    ("GET", "/v1/event_types"): "read",
    ("GET", "/v1/inbound_events"): "read",
    ("GET", "/v1/inbound_events/{inbound_event_id}"): "read",
    ("POST", "/v1/inbound_events/{inbound_event_id}/reprocess"): "write",
    ("POST", "/v1/payments"): "write",
    ("GET", "/v1/payments"): "read",
    ("GET", "/v1/payments/{payment_id}"): "read",
    ("POST", "/v1/payments/{payment_id}/confirm"): "write",
    ("POST", "/v1/payments/{payment_id}/capture"): "write",
    ("POST", "/v1/payments/{payment_id}/cancel"): "write",
    ("POST", "/v1/payments/{payment_id}/refund"): "refund",
    ("POST", "/v1/test_helpers/payments/{payment_id}/complete_action"): "write",
    ("GET", "/v1/refunds"): "read",
    ("GET", "/v1/refunds/{refund_id}"): "read",
    ("GET", "/v1/disputes"): "read",
    ("GET", "/v1/disputes/{dispute_id}"): "read",
    ("POST", "/v1/payment_methods"): "write",
    ("GET", "/v1/payment_methods"): "read",
    ("GET", "/v1/payment_methods/{method_id}"): "read",
    ("POST", "/v1/payment_methods/{method_id}"): "write",
    ("PUT", "/v1/payment_methods/{method_id}"): "write",
    ("DELETE", "/v1/payment_methods/{method_id}"): "write",
    ("POST", "/v1/customers"): "write",
    ("GET", "/v1/customers"): "read",
    ("GET", "/v1/customers/{customer_id}"): "read",
    ("POST", "/v1/customers/{customer_id}"): "write",
    ("PATCH", "/v1/customers/{customer_id}"): "write",
    ("GET", "/v1/reports/reconciliation"): "read",
    ("POST", "/v1/payment_sessions"): "write",
    ("GET", "/v1/payment_sessions"): "read",
    ("GET", "/v1/payment_sessions/{session_id}"): "read",
    ("POST", "/v1/payment_sessions/{session_id}/expire"): "write",
    ("POST", "/v1/payment_sessions/{session_id}/transactions"): "write",
    ("POST", "/v1/payment_sessions/{session_id}/refunds"): "refund",
    ("GET", "/v1/payment_sessions/{session_id}/refunds"): "read",
    ("POST", "/v1/refunds"): "refund",
    ("GET", "/v1/chain_transfers"): "read",
    ("GET", "/v1/chain_transfers/{transfer_id}"): "read",
    ("POST", "/v1/chain_transfers/{transfer_id}/assign"): "write",
    ("POST", "/v1/receiving_addresses"): "write",
    ("GET", "/v1/receiving_addresses"): "read",
    ("DELETE", "/v1/receiving_addresses/{address_id}"): "write",
    ("POST", "/v1/affiliates"): "write",
    ("GET", "/v1/affiliates"): "read",
    ("GET", "/v1/affiliates/{affiliate_id}"): "read",
    ("POST", "/v1/affiliates/{affiliate_id}"): "write",
    ("POST", "/v1/affiliates/{affiliate_id}/payees"): "write",
    ("GET", "/v1/affiliates/{affiliate_id}/payees"): "read",
    ("POST", "/v1/affiliates/{affiliate_id}/payees/{payee_id}/invite"): "write",
    ("POST", "/v1/affiliates/{affiliate_id}/payees/{payee_id}/sync"): "write",
    ("POST", "/v1/subscription_events"): "write",
    ("GET", "/v1/commissions"): "read",
    ("GET", "/v1/commissions/export"): "read",
    ("GET", "/v1/commissions/{commission_id}"): "read",
    ("POST", "/v1/commissions/{commission_id}/approve"): "write",
    ("POST", "/v1/commissions/approve"): "write",
    ("GET", "/v1/payout_batches/preview"): "read",
    ("POST", "/v1/payout_batches"): "write",
    ("GET", "/v1/payout_batches"): "read",
    ("GET", "/v1/payout_batches/{batch_id}"): "read",
    ("POST", "/v1/payout_batches/{batch_id}/cancel"): "write",
    ("GET", "/v1/payouts/export"): "read",
    ("GET", "/v1/payouts"): "read",
}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    path_params: tuple[str, ...]
    has_body: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def need(self) -> str:
        return NEEDS[self.key]

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes it needs (empty for public and admin-role operations)."""
        if self.need in (PUBLIC, ADMIN):
            return frozenset()
        return frozenset(s.strip() for s in self.need.split(","))

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(spec: dict[str, object]) -> list[Op]:
    """Every operation of an OpenAPI document."""
    found = []
    paths = spec["paths"]
    assert isinstance(paths, dict)
    for path, methods in paths.items():
        for method, operation in methods.items():
            params = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "path")
            found.append(Op(method.upper(), path, params, "requestBody" in operation))
    return found


_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ([^|]+) \|$")


def documented(api_md: Path) -> dict[tuple[str, str], str]:
    """The table "Scopes of each operation" of docs/api.md."""
    text = api_md.read_text()
    section = text.split("### Scopes of each operation", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = _ROW.match(line.strip())
        if match:
            rows[(match[1], match[2])] = match[3].strip()
    return rows
