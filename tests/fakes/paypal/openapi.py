"""The stand-in held to PayPal's published OpenAPI documents (shared/reference/paypal/).

Every request the stand-in receives on a documented path and every answer it gives are
validated with openapi-core against Orders v2, Payments v2 or Webhooks v1; webhook events it
sends are validated against the documents' ``event`` schema and their resource's schema. What
fails is recorded (``violations``) and the stand-in's own tests require none, so it cannot
drift from what PayPal documents.

The documents (copied in reference/) do not pass openapi-spec-validator (PayPal's e-mail pattern is not a valid
regex there), so the documents are loaded without the spec check; requests and answers are
still checked field by field.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30ReadValidator

REFERENCE = Path(__file__).parent / "reference"
DOCUMENTS = {
    "/v2/checkout/": "checkout_orders_v2.json",
    "/v2/payments/": "payments_payment_v2.json",
    "/v1/notifications/": "notifications_webhooks_v1.json",
}
HOST = "https://api-m.sandbox.paypal.com"  # the documents' server; the path is what matters
# PayPal's verify-webhook-signature takes the event as received, whose fields the documents
# mark read-only (PayPal's own example sends them): that one complaint is not a drift.
VERIFY = "/v1/notifications/verify-webhook-signature"
READ_ONLY = "Tried to write read-only property"
EVENT_RESOURCES = {
    "checkout-order": ("checkout_orders_v2.json", "order"),
    "capture": ("payments_payment_v2.json", "capture-2"),
    "refund": ("payments_payment_v2.json", "refund"),
}


@cache
def _document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((REFERENCE / name).read_text())
    return loaded


@cache
def _api(name: str) -> OpenAPI:
    with warnings.catch_warnings():  # openapi-core does not check OAuth2 schemes: said once
        warnings.simplefilter("ignore", UserWarning)
        return OpenAPI.from_dict(_document(name), config=Config(spec_validator_cls=None))


def document_for(path: str) -> str | None:
    return next((doc for prefix, doc in DOCUMENTS.items() if path.startswith(prefix)), None)


def check_exchange(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    status: int,
    answer: bytes,
) -> list[str]:
    """What is wrong with one request and its answer, per PayPal's documents."""
    name = document_for(path)
    if name is None or path.startswith("/v1/notifications/certs/"):
        return []
    api = _api(name)
    request = MockRequest(
        HOST,
        method.lower(),
        path,
        args=query,
        headers=headers,
        data=body or None,
        content_type=headers.get("Content-Type", "application/json").split(";")[0],
    )
    response = MockResponse(answer, status_code=status, content_type="application/json")
    with warnings.catch_warnings():  # "Unsupported scheme type": OAuth2 is not checked here
        warnings.simplefilter("ignore", UserWarning)
        found = [
            f"request {method} {path}: {said}"
            for said in map(_describe, api.iter_request_errors(request))
            if not (path == VERIFY and READ_ONLY in said)
        ]
        if path == VERIFY and body:  # still checked, with read-only fields allowed
            found += [
                f"request {method} {path}: {e.message[:300]}"
                for e in _validator(name, "verify_webhook_signature").iter_errors(json.loads(body))
            ]
        if answer and status != 429:  # PayPal's documents describe no 429 answer
            found += [
                f"answer {status} to {method} {path}: {_describe(e)}"
                for e in api.iter_response_errors(request, response)
            ]
    return found


def _describe(error: BaseException) -> str:
    causes: list[str] = []
    current: BaseException | None = error
    while current is not None and len(causes) < 4:
        causes.append(str(current)[:400])
        schema_errors = getattr(current, "schema_errors", None)
        if schema_errors:
            causes.extend(str(e.message)[:300] for e in list(schema_errors)[:3])
        current = current.__cause__
    return " <- ".join(causes)


@cache
def _validator(name: str, schema: str) -> OAS30ReadValidator:
    root = {"$ref": f"#/components/schemas/{schema}", "components": _document(name)["components"]}
    return OAS30ReadValidator(root)


def check_event(event: dict[str, Any]) -> list[str]:
    """What is wrong with a webhook event, per the ``event`` schema and its resource's."""
    found = [
        f"event {event.get('event_type')}: {e.message[:300]}"
        for e in _validator("notifications_webhooks_v1.json", "event").iter_errors(event)
    ]
    target = EVENT_RESOURCES.get(str(event.get("resource_type")))
    if target is not None:
        found += [
            f"event {event.get('event_type')} resource: {e.message[:300]}"
            for e in _validator(*target).iter_errors(event.get("resource"))
        ]
    return found


def _branches(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "issue" in (node.get("properties") or {}):
            yield node
        for value in node.values():
            yield from _branches(value)
    elif isinstance(node, list):
        for value in node:
            yield from _branches(value)


@cache
def _descriptions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in DOCUMENTS.values():
        for branch in _branches(_document(name)):
            props = branch["properties"]
            issues = (props.get("issue") or {}).get("enum") or []
            said = (props.get("description") or {}).get("enum") or []
            if len(issues) == 1 and said:
                found.setdefault(issues[0], said[0])
    return found


def issue_description(issue: str) -> str | None:
    """PayPal's own words for ``issue`` (the documents enumerate them)."""
    return _descriptions().get(issue)
