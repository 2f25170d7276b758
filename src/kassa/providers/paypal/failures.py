"""PayPal's error answers onto kassa's error tree.

PayPal answers a refusal with ``{"name": "UNPROCESSABLE_ENTITY", "details": [{"issue":
"INSTRUMENT_DECLINED", ...}], "debug_id": "..."}`` (the OAuth endpoint with ``{"error":
"invalid_client", ...}`` instead). The mapping:

- 401 / 403 → Permanent ``provider_authentication_failed`` / ``provider_permission_denied``
- 404 → Permanent ``provider_payment_not_found``
- 400 / 422 → Permanent ``provider_rejected`` with PayPal's ``name/issue`` in the message,
  except the issues that are the buyer's funding being refused (``DECLINES``): those are a
  ``DeclinedError`` whose ``decline_code`` keeps PayPal's words,
  ``paypal:UNPROCESSABLE_ENTITY/INSTRUMENT_DECLINED``
- 409 (a request with the same PayPal-Request-Id still in progress), 5xx → Transient
- 429 → RateLimited (with ``Retry-After`` when PayPal sends one)

Messages carry PayPal's ``debug_id`` (what PayPal support asks for), never a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kassa.providers.base import (
    DeclinedError,
    PermanentProviderError,
    ProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.errors import (
    PROVIDER_AUTHENTICATION_FAILED,
    PROVIDER_DOWN,
    PROVIDER_PAYMENT_NOT_FOUND,
    PROVIDER_PERMISSION_DENIED,
    PROVIDER_REJECTED,
)

# Issues that mean the buyer's funding was refused (the request itself was fine).
DECLINES = frozenset(
    {
        "INSTRUMENT_DECLINED",
        "PAYER_CANNOT_PAY",
        "TRANSACTION_REFUSED",
        "PAYER_ACCOUNT_RESTRICTED",
        "PAYER_ACCOUNT_LOCKED_OR_CLOSED",
        "DECLINED_DUE_TO_RELATED_TXN",
        "TRANSACTION_LIMIT_EXCEEDED",
        "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
        "REDIRECT_PAYER_FOR_ALTERNATE_FUNDING",
        "CARD_EXPIRED",
        "REFERENCED_CARD_EXPIRED",
        "AUTHORIZATION_DENIED",
        "COMPLIANCE_VIOLATION",
    }
)


def decline_code(name: str, issue: str) -> str:
    return f"paypal:{name}/{issue}"


def first_issue(body: Mapping[str, Any]) -> str | None:
    details = body.get("details")
    if isinstance(details, list) and details and isinstance(details[0], Mapping):
        issue = details[0].get("issue")
        return str(issue) if issue else None
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def from_response(
    provider: str,
    status: int,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    payment_id: str | None = None,
) -> ProviderError:
    """The kassa error for PayPal's answer ``status`` with error ``body``."""
    name = str(body.get("name") or body.get("error") or f"HTTP_{status}")
    issue = first_issue(body)
    said = f"{name}/{issue}" if issue else name
    debug = f" (debug_id {body['debug_id']})" if body.get("debug_id") else ""
    message = f"PayPal answered {status} {said}{debug}."
    if status == 429:
        return RateLimitedError(message, provider=provider, retry_after=_retry_after(headers))
    if status >= 500 or status == 409:
        return TransientProviderError(message, provider=provider, code=PROVIDER_DOWN)
    if status == 401:
        return PermanentProviderError(
            message, provider=provider, code=PROVIDER_AUTHENTICATION_FAILED.code
        )
    if status == 403:
        return PermanentProviderError(
            message, provider=provider, code=PROVIDER_PERMISSION_DENIED.code
        )
    if status == 404:
        return PermanentProviderError(
            message, provider=provider, code=PROVIDER_PAYMENT_NOT_FOUND.code
        )
    if issue in DECLINES:
        return DeclinedError(
            f"PayPal declined the buyer's funding ({said}){debug}.",
            provider=provider,
            decline_code=decline_code(name, issue),
            provider_payment_id=payment_id,
        )
    return PermanentProviderError(message, provider=provider, code=PROVIDER_REJECTED.code)
