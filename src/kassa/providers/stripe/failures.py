"""Stripe's errors (the SDK's exceptions) as kassa's error tree (providers/base.py).

- ``CardError`` (HTTP 402) → DeclinedError with Stripe's ``decline_code`` (else its ``code``:
  ``expired_card``, ``incorrect_cvc``), ``advice_code``, ``network_decline_code`` and
  ``network_advice_code``, and the PaymentIntent it left behind.
- ``RateLimitError`` (429) → RateLimitedError.
- ``APIConnectionError`` → TransientProviderError; *ambiguous* when the request may have
  reached Stripe (a read timeout, a connection dropped mid-answer), not when it cannot have
  (no connection made).
- 5xx → TransientProviderError. On a write it is ambiguous (Stripe documents a 500's result
  as indeterminate: the request may have executed, and only Stripe, asked again with the same
  key, can tell) unless Stripe says ``Stripe-Should-Retry: true``, its word that nothing was
  done and a retry is safe (a lock timeout, a refusal before execution): then another
  provider may be tried. 409 ``idempotency_key_in_use`` (the first request with that key is
  still running) is ambiguous for the same reason.
- ``IdempotencyError`` (the key reused with other parameters) → PermanentProviderError
  ``idempotency_mismatch``; ``AuthenticationError`` / ``PermissionError`` →
  ``provider_authentication_failed``; ``InvalidRequestError`` → ``invalid_payment_method`` when
  it is about the payment method, else ``provider_rejected``.

Messages are Stripe's own (they never hold a secret), except for authentication, whose
message may quote part of the key.
"""

from __future__ import annotations

import httpx
import stripe

from kassa.providers.base import (
    DeclinedError,
    MethodDetails,
    PermanentProviderError,
    ProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.errors import (
    IDEMPOTENCY_MISMATCH,
    INVALID_PAYMENT_METHOD,
    PROVIDER_AUTHENTICATION_FAILED,
    PROVIDER_DOWN,
    PROVIDER_REJECTED,
    TIMEOUT,
)
from kassa.providers.stripe.shapes import method_details

# httpx failures after which the request cannot have reached Stripe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def declined(
    provider: str,
    message: str,
    *,
    code: str | None,
    decline_code: str | None,
    advice_code: str | None = None,
    network_decline_code: str | None = None,
    network_advice_code: str | None = None,
    payment_id: str | None = None,
    method: MethodDetails | None = None,
) -> DeclinedError:
    return DeclinedError(
        message,
        provider=provider,
        decline_code=decline_code or code or "generic_decline",
        provider_payment_id=payment_id,
        method=method,
        advice_code=advice_code,
        network_decline_code=network_decline_code,
        network_advice_code=network_advice_code,
    )


def _card_error(provider: str, exc: stripe.CardError) -> DeclinedError:
    error = exc.error
    intent = getattr(error, "payment_intent", None) if error is not None else None
    pm = getattr(error, "payment_method", None) if error is not None else None
    return declined(
        provider,
        exc.user_message or "The card was declined.",
        code=exc.code,
        decline_code=getattr(error, "decline_code", None),
        advice_code=getattr(error, "advice_code", None),
        network_decline_code=getattr(error, "network_decline_code", None),
        network_advice_code=getattr(error, "network_advice_code", None),
        payment_id=getattr(intent, "id", None),
        method=method_details(pm) if pm is not None else None,
    )


def _connection_error(provider: str, exc: stripe.APIConnectionError) -> TransientProviderError:
    cause = exc.__cause__
    timed_out = isinstance(cause, httpx.TimeoutException)
    return TransientProviderError(
        "Stripe did not answer in time." if timed_out else "Could not reach Stripe.",
        provider=provider,
        code=TIMEOUT if timed_out else PROVIDER_DOWN,
        ambiguous=not isinstance(cause, _NOT_SENT),
    )


def _stripe_says_retry(exc: stripe.StripeError) -> bool:
    headers = {name.lower(): value for name, value in (exc.headers or {}).items()}
    return headers.get("stripe-should-retry") == "true"


def _permanent(provider: str, message: str, code: str) -> PermanentProviderError:
    return PermanentProviderError(f"Stripe: {message}", provider=provider, code=code)


def map_error(provider: str, exc: stripe.StripeError, *, write: bool) -> ProviderError:
    """kassa's error for ``exc``, raised by a call that was a write (POST) or a read."""
    status = exc.http_status or 0
    message = exc.user_message or "Stripe refused the request."
    if isinstance(exc, stripe.CardError):
        return _card_error(provider, exc)
    if isinstance(exc, stripe.RateLimitError):
        return RateLimitedError("Stripe rate-limited the request.", provider=provider)
    if isinstance(exc, stripe.APIConnectionError):
        return _connection_error(provider, exc)
    if isinstance(exc, stripe.IdempotencyError):
        return _permanent(provider, message, IDEMPOTENCY_MISMATCH.code)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return _permanent(
            provider,
            f"the secret key was refused (HTTP {status}); check the Stripe credentials.",
            PROVIDER_AUTHENTICATION_FAILED.code,
        )
    if isinstance(exc, stripe.InvalidRequestError):
        about_method = getattr(exc, "param", None) == "payment_method"
        return _permanent(
            provider,
            message,
            INVALID_PAYMENT_METHOD.code if about_method else PROVIDER_REJECTED.code,
        )
    if status == 409 or status >= 500:
        stripe_code = exc.code or (exc.error.code if exc.error is not None else None)
        return TransientProviderError(
            f"Stripe answered HTTP {status}.",
            provider=provider,
            code=stripe_code if status == 409 and stripe_code else PROVIDER_DOWN,
            ambiguous=write and not (status >= 500 and _stripe_says_retry(exc)),
        )
    return _permanent(provider, message, PROVIDER_REJECTED.code)
