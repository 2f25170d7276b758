"""HTTP to Rise: one request, its envelope, and the error tree.

Rise's B2B API answers ``{"success": bool, "data": ...}``; a refusal carries ``data`` as a
message or as ``{"code": "INSUFFICIENT_BALANCE", "message": ...}`` (codes from Rise's docs:
INSUFFICIENT_BALANCE, INVALID_SIGNATURE, EXPIRED_TYPED_DATA, INVALID_RECIPIENT,
SIGNATURE_MISMATCH, EXPIRED_NONCE, JWT_EXPIRED; PAYEE_NOT_PAYABLE and SALT_REUSED are
assumed names for what Rise's docs describe without a code).

Mapping (``providers/base.py`` documents the tree):

- connection refused / DNS: transient, never ambiguous (nothing was sent);
- a timeout or 5xx on a write: transient and *ambiguous* (Rise may have paid; the same salt
  asked again tells); on a read: transient;
- 429: ``RateLimitedError`` with ``Retry-After``;
- INSUFFICIENT_BALANCE: ``DeclinedError`` ``insufficient_funds`` (soft: fund and retry);
  PAYEE_NOT_PAYABLE: ``DeclinedError`` ``payee_not_payable``;
- unknown payee: ``invalid_payee``; reused salt: ``idempotency_mismatch``; refused sign-in:
  ``provider_authentication_failed``; any other 4xx: ``provider_rejected`` (all permanent).

No request body, header or token is ever put into a message or a log line: the bodies carry
signatures and the headers the JWT; the private key never leaves ``auth``/``provider``.
"""

from __future__ import annotations

from typing import Any

import httpx

from kassa.providers.base import (
    PAYEE_NOT_PAYABLE,
    DeclinedError,
    PermanentProviderError,
    ProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.errors import (
    IDEMPOTENCY_MISMATCH,
    INVALID_PAYEE,
    PROVIDER_AUTHENTICATION_FAILED,
    PROVIDER_DOWN,
    PROVIDER_REJECTED,
    TIMEOUT,
)

PROVIDER = "rise"
AUTH_CODES = frozenset({"SIGNATURE_MISMATCH", "EXPIRED_NONCE", "INVALID_WALLET", "FORBIDDEN"})
PAYEE_CODES = frozenset({"INVALID_RECIPIENT", "INVALID_RISE_ID", "PAYEE_NOT_FOUND"})


class Unauthorized(Exception):
    """401: the JWT is missing, expired or revoked (the caller signs in again once)."""


def rise_error(data: object) -> tuple[str, str]:
    """(code, message) of a refusal's ``data``; the message cut short."""
    if isinstance(data, dict):
        code = str(data.get("code") or "UNKNOWN")
        message = str(data.get("message") or "")
    else:
        code, message = "UNKNOWN", str(data or "")
    return code, message[:200]


def error_for(
    status: int, data: object, *, retry_after: float | None, write: bool
) -> ProviderError:
    code, message = rise_error(data)
    said = f"Rise refused the request ({status} {code}){': ' + message if message else ''}."
    if status == 429:
        return RateLimitedError(said, provider=PROVIDER, retry_after=retry_after)
    if status >= 500:
        return TransientProviderError(said, provider=PROVIDER, code=PROVIDER_DOWN, ambiguous=write)
    if code == "INSUFFICIENT_BALANCE":
        return DeclinedError(said, provider=PROVIDER, decline_code="insufficient_funds")
    if code == PAYEE_NOT_PAYABLE.upper():
        return DeclinedError(said, provider=PROVIDER, decline_code=PAYEE_NOT_PAYABLE)
    if code in PAYEE_CODES or status == 404:
        return PermanentProviderError(said, provider=PROVIDER, code=INVALID_PAYEE.code)
    if code == "SALT_REUSED":
        return PermanentProviderError(said, provider=PROVIDER, code=IDEMPOTENCY_MISMATCH.code)
    if code in AUTH_CODES or status in (401, 403):
        return PermanentProviderError(
            said, provider=PROVIDER, code=PROVIDER_AUTHENTICATION_FAILED.code
        )
    return PermanentProviderError(said, provider=PROVIDER, code=PROVIDER_REJECTED.code)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    token: str | None = None,
    json: object = None,
    params: dict[str, str] | None = None,
    write: bool = False,
) -> Any:
    """One request; returns the envelope's ``data``. 404 on a read returns None."""
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = await http.request(method, path, json=json, params=params, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise TransientProviderError(
            f"Rise could not be reached ({type(exc).__name__}).",
            provider=PROVIDER,
            code=PROVIDER_DOWN,
        ) from None
    except httpx.TimeoutException as exc:
        raise TransientProviderError(
            f"Rise did not answer in time ({type(exc).__name__}).",
            provider=PROVIDER,
            code=TIMEOUT,
            ambiguous=write,
        ) from None
    except httpx.TransportError as exc:
        raise TransientProviderError(
            f"The connection to Rise failed ({type(exc).__name__}).",
            provider=PROVIDER,
            code=PROVIDER_DOWN,
            ambiguous=write,
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    if response.status_code == 401 and token is not None:
        raise Unauthorized()
    if response.status_code == 404 and not write:
        return None
    if response.status_code >= 400 or not (isinstance(body, dict) and body.get("success")):
        status = response.status_code if response.status_code >= 400 else 502
        raise error_for(status, data, retry_after=_retry_after(response), write=write)
    return data
