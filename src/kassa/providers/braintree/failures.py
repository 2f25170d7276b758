"""What Braintree's answers and the SDK's exceptions become in kassa's error tree.

- A transaction the processor declined, the gateway rejected or that failed (an
  ``ErrorResult`` carrying a transaction) -> ``BraintreeDeclinedError`` (a ``DeclinedError``)
  with a kassa decline code and Braintree's raw processor code, text and rejection reason.
- An ``ErrorResult`` without a transaction (validation errors) -> ``BraintreeRejectedError``
  (a ``PermanentProviderError``) with a stable kassa code and Braintree's validation codes.
- Authentication (401), authorization (403), upgrade required (426) -> permanent.
- 429 -> ``RateLimitedError``; 500, 503 -> transient; timeouts (read, 408, 504) and a
  connection lost after sending -> transient and *ambiguous* when the call could have written.
  A connection never made (refused, connect timeout) is never ambiguous.
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3.exceptions

from kassa.providers.base import (
    DeclinedError,
    MethodDetails,
    PermanentProviderError,
    ProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.braintree.codes import (
    GATEWAY_REJECTIONS,
    decline_code_for,
    rejection_code_for,
)
from kassa.providers.braintree.sdk import (
    ConnectTimeoutError,
    ReadTimeoutError,
    SdkConnectionError,
    SdkTimeoutError,
    braintree,
)
from kassa.providers.errors import PROVIDER_DOWN, PROVIDER_REJECTED, TIMEOUT

DECLINED_STATUSES = frozenset({"processor_declined", "gateway_rejected", "failed"})


class BraintreeDeclinedError(DeclinedError):
    """A decline with Braintree's own words kept beside kassa's ``decline_code``."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        decline_code: str,
        provider_payment_id: str | None,
        method: MethodDetails | None,
        processor_response_code: str | None = None,
        processor_response_text: str | None = None,
        gateway_rejection_reason: str | None = None,
    ) -> None:
        super().__init__(
            message,
            provider=provider,
            decline_code=decline_code,
            provider_payment_id=provider_payment_id,
            method=method,
        )
        self.processor_response_code = processor_response_code
        self.processor_response_text = processor_response_text
        self.gateway_rejection_reason = gateway_rejection_reason


class BraintreeRejectedError(PermanentProviderError):
    """Braintree refused the request as sent; ``braintree_codes`` are its validation codes."""

    def __init__(self, message: str, *, provider: str, code: str, braintree_codes: list[str]):
        super().__init__(message, provider=provider, code=code)
        self.braintree_codes = braintree_codes


def declined(
    provider: str, transaction: Any, method: MethodDetails | None
) -> BraintreeDeclinedError:
    """The error a declined, rejected or failed transaction is."""
    status = str(transaction.status)
    processor_code = _text(getattr(transaction, "processor_response_code", None))
    processor_text = _text(getattr(transaction, "processor_response_text", None))
    reason = _text(getattr(transaction, "gateway_rejection_reason", None))
    if status == "gateway_rejected":
        code = GATEWAY_REJECTIONS.get(reason or "", "generic_decline")
        message = f"Braintree rejected the transaction ({reason or 'unknown reason'})."
    else:
        code = decline_code_for(processor_code)
        message = (
            f"The card was declined: processor response {processor_code or '?'} "
            f"{processor_text or ''}".rstrip()
            + "."
        )
    return BraintreeDeclinedError(
        message,
        provider=provider,
        decline_code=code,
        provider_payment_id=str(transaction.id),
        method=method,
        processor_response_code=processor_code,
        processor_response_text=processor_text,
        gateway_rejection_reason=reason,
    )


def validation_codes(result: Any) -> list[str]:
    return [str(error.code) for error in result.errors.deep_errors]


def rejected(provider: str, result: Any, why: str = "") -> BraintreeRejectedError:
    """The error an ``ErrorResult`` without a transaction is (validation errors); ``why``
    explains it ahead of Braintree's own words."""
    codes = validation_codes(result)
    described = "; ".join(
        f"{error.code} {error.message}" for error in result.errors.deep_errors
    ) or str(result.message)
    return BraintreeRejectedError(
        f"{why}Braintree refused the request: {described}",
        provider=provider,
        code=rejection_code_for(codes),
        braintree_codes=codes,
    )


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _never_connected(exc: BaseException) -> bool:
    """Whether a connection error happened before anything was sent (refused, DNS)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, urllib3.exceptions.NewConnectionError | requests.ConnectTimeout):
            return True
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, BaseException) and _never_connected(arg):
                return True
            if isinstance(arg, urllib3.exceptions.MaxRetryError) and arg.reason is not None:
                return _never_connected(arg.reason)
        seen = seen.__cause__ or seen.__context__
    return False


def translate(provider: str, exc: Exception, *, writes: bool) -> ProviderError:
    """The kassa error an SDK exception is. ``writes``: the call could have moved money."""
    exceptions = braintree.exceptions
    if isinstance(exc, exceptions.TooManyRequestsError):
        return RateLimitedError("Braintree is rate limiting (HTTP 429).", provider=provider)
    if isinstance(exc, exceptions.ServerError):
        return TransientProviderError(
            "Braintree answered HTTP 500.", provider=provider, code=PROVIDER_DOWN
        )
    if isinstance(exc, exceptions.ServiceUnavailableError):
        return TransientProviderError(
            "Braintree is unavailable (HTTP 503).", provider=provider, code=PROVIDER_DOWN
        )
    if isinstance(exc, ConnectTimeoutError):
        return TransientProviderError(
            "Braintree did not accept the connection in time.", provider=provider, code=TIMEOUT
        )
    if isinstance(
        exc,
        ReadTimeoutError
        | SdkTimeoutError
        | exceptions.GatewayTimeoutError
        | exceptions.RequestTimeoutError,
    ):
        return TransientProviderError(
            "Braintree did not answer in time.", provider=provider, code=TIMEOUT, ambiguous=writes
        )
    if isinstance(exc, SdkConnectionError):
        before = _never_connected(exc)
        return TransientProviderError(
            "The connection to Braintree failed"
            + (" before the request was sent." if before else "."),
            provider=provider,
            code=PROVIDER_DOWN,
            ambiguous=writes and not before,
        )
    if isinstance(exc, exceptions.AuthenticationError):
        return PermanentProviderError(
            "Braintree refused the credentials (HTTP 401): check the public and private key.",
            provider=provider,
            code=PROVIDER_REJECTED.code,
        )
    if isinstance(exc, exceptions.AuthorizationError):
        return PermanentProviderError(
            "Braintree refused access (HTTP 403): the keys do not belong to this merchant "
            "or lack the permission.",
            provider=provider,
            code=PROVIDER_REJECTED.code,
        )
    if isinstance(exc, exceptions.UpgradeRequiredError):
        return PermanentProviderError(
            "Braintree no longer accepts this SDK's API version (HTTP 426).",
            provider=provider,
            code=PROVIDER_REJECTED.code,
        )
    return TransientProviderError(
        f"Unexpected answer from Braintree ({type(exc).__name__}).",
        provider=provider,
        code=PROVIDER_DOWN,
        ambiguous=writes,
    )
