"""The domain error tree. Every error has a stable machine-readable ``code``.

Domain code raises these; the API layer turns them into RFC 7807 problem details and picks
the HTTP status by class. No module below ``api`` knows about HTTP.

    KassaError                      code            meaning
    ├── InvalidRequest              invalid_request the input is wrong (``param`` names the field)
    │   └── InvalidMoney            invalid_amount  amount/currency cannot be money
    ├── NotFound                    resource_missing no such object *for this account*
    ├── Conflict                    conflict        the object's state forbids the action
    │   ├── InvalidStateTransition  invalid_state_transition
    │   ├── IdempotencyError        idempotency_error  same key, different request
    │   └── IdempotencyInFlight     idempotency_in_flight  same key still running
    ├── AuthenticationFailed        authentication_failed  no or bad credentials
    ├── PermissionDenied            permission_denied      credentials lack a scope/role
    ├── RateLimited                 rate_limited    too many requests; ``retry_after`` seconds
    ├── MethodNotAllowed            method_not_allowed     the path takes other methods
    ├── PayloadTooLarge             payload_too_large      the body is over the limit
    ├── UnsupportedMediaType        unsupported_media_type the body is not sent as JSON
    ├── InternalError               internal_error  a bug (answered by the API layer)
    ├── ConfigurationError          configuration_error  settings cannot work
    └── ServiceUnavailable          service_unavailable  a dependency (database, provider) is down
"""

from __future__ import annotations

from typing import Any


class KassaError(Exception):
    code: str = "error"
    default_message: str = "An error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.param = param
        self.details = details or {}
        super().__init__(self.message)


class InvalidRequest(KassaError):
    code = "invalid_request"
    default_message = "The request is invalid."


class InvalidMoney(InvalidRequest):
    code = "invalid_amount"
    default_message = "The amount is not valid money."


class NotFound(KassaError):
    code = "resource_missing"
    default_message = "No such object."


class Conflict(KassaError):
    code = "conflict"
    default_message = "The request conflicts with the object's current state."


class InvalidStateTransition(Conflict):
    code = "invalid_state_transition"
    default_message = "The object cannot move to that state."


class IdempotencyError(Conflict):
    code = "idempotency_error"
    default_message = "This Idempotency-Key was used with different request parameters."


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    default_message = "A request with this Idempotency-Key is still being processed."


class AuthenticationFailed(KassaError):
    code = "authentication_failed"
    default_message = "Missing or invalid credentials."


class PermissionDenied(KassaError):
    code = "permission_denied"
    default_message = "These credentials may not do this."


class RateLimited(KassaError):
    code = "rate_limited"
    default_message = "Too many requests."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


# The three below are answered by the API layer before any route runs, and InternalError for
# any unexpected exception: they are classes so that every code has a kind (and a status).
class MethodNotAllowed(KassaError):
    code = "method_not_allowed"
    default_message = "This path does not take that method."


class PayloadTooLarge(KassaError):
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(KassaError):
    code = "unsupported_media_type"
    default_message = "Request bodies are JSON."


class InternalError(KassaError):
    code = "internal_error"
    default_message = "Something went wrong on our side."


class ConfigurationError(KassaError):
    code = "configuration_error"
    default_message = "The configuration cannot work."


class ServiceUnavailable(KassaError):
    code = "service_unavailable"
    default_message = "A service kassa depends on is unavailable. Try again shortly."
